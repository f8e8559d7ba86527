"""The domain service behind the HTTP API: ingestion, profiles, recommendations."""

from taste2vec.service.core import TasteService
from taste2vec.service.demo import seed_demo

__all__ = ["TasteService", "seed_demo"]
