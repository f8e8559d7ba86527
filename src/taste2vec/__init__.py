"""Taste2Vec: learn people's taste in coffee as a 128-d taste vector."""

__version__ = "0.1.0"
