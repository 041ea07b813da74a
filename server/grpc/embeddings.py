"""`lexsent.v1.Embeddings`: Embed and ListModels over the same `EmbeddingsService` as HTTP."""

from __future__ import annotations

from typing import Any

import grpc

from lexsent.errors import InvalidInputError
from lexsent.manifest import Manifest
from lexsent.tokenizer import LongInputPolicy
from server.embeddings import EMBED, LIST_MODELS, EmbeddingsService, EmbedRequest, EmbedResult, model_fields
from server.grpc.common import add_servicer, api_token, enum_value, rpc
from server.proto_gen import embeddings_pb2 as pb
from server.proto_gen import embeddings_pb2_grpc as pb_grpc
from server.service import Service
from server.validation import validate

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["Embeddings"].full_name
_POLICY = {
    pb.LONG_INPUT_POLICY_TRUNCATE: LongInputPolicy.TRUNCATE,
    pb.LONG_INPUT_POLICY_ERROR: LongInputPolicy.ERROR,
}


def to_request(message: Any) -> EmbedRequest:
    which = message.WhichOneof("input")
    raw: list[str] | list[list[int]]
    if which == "token_ids":
        raw = [list(ids.ids) for ids in message.token_ids.values]
        if not raw:
            raise InvalidInputError("token_ids is empty: send at least one token-id list")
    else:
        raw = list(message.texts.values) if which == "texts" else []
    return validate(
        EmbedRequest,
        {
            "input": raw,
            "model": message.model or None,
            "dimensions": message.dimensions or None,
            "long_input": enum_value(_POLICY, message.long_input, "long_input", None),
        },
    )


def to_response(result: EmbedResult) -> Any:
    data = [
        pb.Embedding(values=row, tokens=n, truncated=cut)
        for row, n, cut in zip(result.vectors.tolist(), result.token_counts, result.truncated, strict=True)
    ]
    usage = pb.Usage(prompt_tokens=result.prompt_tokens, total_tokens=result.prompt_tokens)
    return pb.EmbedResponse(model=result.model, data=data, usage=usage)


def model_info(manifest: Manifest, default: str) -> Any:
    fields = model_fields(manifest)
    parity = pb.Parity(**fields.pop("parity"))
    return pb.ModelInfo(name=manifest.name, is_default=manifest.name == default, parity=parity, **fields)


class EmbeddingsServicer(pb_grpc.EmbeddingsServicer):
    def __init__(self, embeddings: EmbeddingsService) -> None:
        self.embeddings = embeddings
        self.core = embeddings.core

    @rpc(EMBED)
    async def Embed(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        result = await self.embeddings.embed(to_request(request), api_token(context))
        return to_response(result)

    @rpc(LIST_MODELS)
    async def ListModels(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        manifests = await self.embeddings.list_models(api_token(context))
        default = self.embeddings.models.default
        return pb.ListModelsResponse(models=[model_info(m, default) for m in manifests])


def register(server: grpc.aio.Server, service: Service) -> None:
    add_servicer(pb_grpc.add_EmbeddingsServicer_to_server, EmbeddingsServicer(service.embeddings), server)
