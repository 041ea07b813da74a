"""Durable FAISS collections: named sets of vectors with ids and JSON metadata, searchable by vector.

Torch- and transport-free; the server encodes text and calls into this package.
"""

from lexsent.collections.collection import MAX_K, Collection, Hit, Point
from lexsent.collections.config import CollectionConfig, IndexKind, IndexParams, Metric, Scoring
from lexsent.collections.fsio import Disk
from lexsent.collections.indexes import SearchOptions
from lexsent.collections.store import CollectionStore

__all__ = [
    "MAX_K",
    "Collection",
    "CollectionConfig",
    "CollectionStore",
    "Disk",
    "Hit",
    "IndexKind",
    "IndexParams",
    "Metric",
    "Point",
    "Scoring",
    "SearchOptions",
]
