"""lexsent: torch-free core — bundles, tokenizer, ONNX encoder, collections."""

from lexsent.bundle import Bundle
from lexsent.encoder import Device, Embeddings, Encoder, load
from lexsent.errors import BundleError, InvalidInputError, LexsentError
from lexsent.manifest import Manifest, ModelKind, Pooling, Precision
from lexsent.tokenizer import LongInputPolicy

__version__ = "0.1.0"

__all__ = [
    "Bundle",
    "BundleError",
    "Device",
    "Embeddings",
    "Encoder",
    "InvalidInputError",
    "LexsentError",
    "LongInputPolicy",
    "Manifest",
    "ModelKind",
    "Pooling",
    "Precision",
    "__version__",
    "load",
]
