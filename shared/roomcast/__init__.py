"""Roomcast's domain package: the chat model, its rules and its data access.

Shipped to every function as the Lambda layer built from ``shared/``.
"""
