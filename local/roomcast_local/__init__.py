"""Roomcast on one machine: resources from template.yaml on moto, handlers fed like Lambda feeds them."""
