"""Interop tests: real IRC clients written by others, driven against a chinwag server."""
