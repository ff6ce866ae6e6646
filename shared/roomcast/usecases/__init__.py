"""The use cases: each a function or small class taking its dependencies (the ports) as arguments."""
