"""Fixtures every test directory may use: the real Redis and PostgreSQL of ``services.py``."""

pytest_plugins = ["tests.services"]
