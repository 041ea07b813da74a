"""`POST /v1/embeddings` (OpenAI-compatible) and `GET /v1/models`."""

from __future__ import annotations

import base64
from typing import Any, Literal

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from lexsent.manifest import Manifest, Parity
from server.embeddings import (
    EMBED,
    LIST_MODELS,
    EmbeddingsService,
    EmbedRequest,
    EmbedResult,
    EncodingFormat,
    model_fields,
)
from server.http.common import JSONResponse, api_token, endpoint, read_json, unless_client_leaves
from server.http.openapi import Components, operation
from server.service import Service
from server.validation import validate

# From this many inputs a request is watched for its client leaving (a few ms of work below it is not
# worth a watcher task on the hot path of short requests).
WATCHED_INPUTS = 32


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str
    tokens: int  # lexsent extension: tokens the model saw for this input
    truncated: bool  # lexsent extension: the input was cut to the model's max_length


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: Usage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "lexsent"
    kind: str
    dim: int
    max_length: int
    pooling: str
    normalized: bool
    precision: str
    languages: list[str]
    fingerprint: str
    default: bool
    architecture: str
    parity: Parity
    evaluation: dict[str, float]


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def embeddings_body(result: EmbedResult, encoding: EncodingFormat) -> dict[str, Any]:
    if encoding is EncodingFormat.BASE64:
        little = result.vectors.astype("<f4", copy=False)
        values: list[Any] = [base64.b64encode(row.tobytes()).decode("ascii") for row in little]
    else:
        values = result.vectors.tolist()
    data = [
        {"object": "embedding", "index": i, "embedding": v, "tokens": n, "truncated": t}
        for i, (v, n, t) in enumerate(zip(values, result.token_counts, result.truncated, strict=True))
    ]
    usage = {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens}
    return {"object": "list", "data": data, "model": result.model, "usage": usage}


def model_card(manifest: Manifest, default: str) -> dict[str, Any]:
    return ModelCard(id=manifest.name, default=manifest.name == default, **model_fields(manifest)).model_dump()


def routes(service: Service) -> list[BaseRoute]:
    embeddings: EmbeddingsService = service.embeddings

    @endpoint(service.core, EMBED)
    async def create_embeddings(request: Request) -> Response:
        body = validate(EmbedRequest, await read_json(request, service.core))

        async def work() -> Response:
            result = await embeddings.embed(body, api_token(request))
            return JSONResponse(embeddings_body(result, body.encoding_format))

        if isinstance(body.input, list) and len(body.input) >= WATCHED_INPUTS:
            return await unless_client_leaves(request, work)
        return await work()

    @endpoint(service.core, LIST_MODELS)
    async def list_models(request: Request) -> Response:
        manifests = await embeddings.list_models(api_token(request))
        default = embeddings.models.default
        return JSONResponse({"object": "list", "data": [model_card(m, default) for m in manifests]})

    @endpoint(service.core, LIST_MODELS)
    async def get_model(request: Request) -> Response:
        """OpenAI's `GET /v1/models/{model}` (the SDK's `models.retrieve`)."""
        manifest = await embeddings.get_model(request.path_params["model"], api_token(request))
        return JSONResponse(model_card(manifest, embeddings.models.default))

    return [
        Route("/v1/embeddings", create_embeddings, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model}", get_model, methods=["GET"]),
    ]


def openapi(components: Components) -> dict[str, Any]:
    return {
        "/v1/embeddings": {
            "post": operation(
                components,
                "Embed texts or token ids (OpenAI-compatible)",
                request=EmbedRequest,
                response=EmbeddingsResponse,
                errors=(400, 401, 403, 404, 408, 413, 415, 422, 429, 503, 504),
            )
        },
        "/v1/models": {
            "get": operation(
                components, "Served models with their manifest fields", response=ModelList, errors=(401, 503)
            )
        },
        "/v1/models/{model}": {
            "get": operation(components, "One served model", response=ModelCard, errors=(401, 404, 503))
        },
    }
