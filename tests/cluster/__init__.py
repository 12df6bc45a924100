"""One network on many nodes: the Redis bus against a real Redis (``tests/services.py``)."""
