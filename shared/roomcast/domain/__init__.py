"""The chat model and its rules: no I/O, nothing but pydantic and the standard library."""
