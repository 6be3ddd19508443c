"""Shared, tested helpers for the Dogs vs. Cats with Keras course."""

__version__ = "0.1.0"
