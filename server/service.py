"""`Service`: the transport-agnostic server — one `Core` plus one part per concept.

Extension points (collections, mining):
- a concept service class taking `core: Core` that wraps each public operation in `core.call(...)`
  with its own `Operation` constants (`Access.WRITE` for anything that changes state);
- an attribute here (`collections` is reserved for issue 4) set in `Service.__init__`, started and
  stopped with the others;
- HTTP routes in `server/http/<concept>.py` exposing `routes(service)` and `openapi(schemas)`, listed
  in `server/http/app.py`; a gRPC servicer in `server/grpc/<concept>.py` exposing `register(server,
  service)` and its service name, listed in `server/grpc/app.py`.
Error mapping, auth, request ids and metrics then come for free from `Core` and the adapters' helpers.
"""

from __future__ import annotations

from lexsent.collections.store import stored_collections
from server import fdlimit
from server.collections import CollectionsService
from server.core import Core
from server.embeddings import EmbeddingsService
from server.mining import MiningService
from server.models import ModelRegistry
from server.settings import ServerSettings


class Service:
    def __init__(self, settings: ServerSettings, models: ModelRegistry) -> None:
        self.core = Core(settings)
        self.settings = settings
        self.embeddings = EmbeddingsService(self.core, models)
        self.collections = CollectionsService(self.core, self.embeddings, settings.data_dir / "collections")
        self.mining = MiningService(self.core, self.embeddings)

    def start(self) -> None:
        """Size the open-file limit for the stored collections, open the collections (first: a data
        directory another process holds stops the start before any worker runs), start the batch
        workers and turn ready."""
        fdlimit.prepare(stored_collections(self.collections.root), self.settings.max_collections)
        self.collections.start()
        self.embeddings.start()
        self.core.lifecycle.mark_ready()

    async def drain(self) -> bool:
        """Refuse new requests, wait for in-flight ones (bounded by --drain-timeout)."""
        return await self.core.lifecycle.drain(self.settings.drain_timeout)

    def stop(self) -> None:
        self.embeddings.stop()
        self.collections.stop()
