"""lexsent-client: embeddings from a lexsent server over HTTP or gRPC, sync or async.

    from lexsent_client import Client
    with Client("http://127.0.0.1:8080", api_key="...") as client:
        result = client.embed(["hello", "world"])
        result.vectors  # list of float lists, one per input

`GrpcClient("127.0.0.1:50051")` has the same methods; `AsyncClient` / `AsyncGrpcClient` are their
asyncio twins. 429 and 503 answers (RESOURCE_EXHAUSTED / UNAVAILABLE) are retried with backoff.
"""

from lexsent_client.errors import LexsentClientError
from lexsent_client.grpc import AsyncGrpcClient, GrpcClient
from lexsent_client.http import AsyncClient, Client
from lexsent_client.retry import Retry
from lexsent_client.types import Embeddings, LongInput, ModelInfo, Parity

__all__ = [
    "AsyncClient",
    "AsyncGrpcClient",
    "Client",
    "Embeddings",
    "GrpcClient",
    "LexsentClientError",
    "LongInput",
    "ModelInfo",
    "Parity",
    "Retry",
]
