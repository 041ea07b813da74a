"""lexsent server: one transport-agnostic `Service` (server/service.py) with HTTP and gRPC adapters.

Layers: `settings` (one options object) → `service.Service` = `core.Core` (auth, admission/drain,
deadline, metrics, logs) + concept services (`embeddings.EmbeddingsService`; collections and mining
slot in the same way, see `server/service.py`) → transports `http/` and `grpc/` → `runner.Runner`
(both in one event loop). Never imports torch.
"""
