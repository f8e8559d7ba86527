"""The HTTP API (FastAPI). Build it with :func:`create_app`; serve it with ``taste2vec serve``."""

from taste2vec.api.app import create_app

__all__ = ["create_app"]
