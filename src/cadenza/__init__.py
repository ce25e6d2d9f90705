"""Cadenza: an open-source music streaming platform."""

__version__ = "0.1.0"
