"""`POST /v1/mine`: aligned sentence pairs between two lists, best first."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.http.common import JSONResponse, api_token, endpoint, read_json, unless_client_leaves
from server.http.openapi import Components, operation
from server.mining import MINE, MineRequest, MineResult, MiningService
from server.service import Service
from server.validation import validate


class PairOut(BaseModel):
    source: int
    target: int
    score: float


class MineResponse(BaseModel):
    model: str
    threshold: float
    pairs: list[PairOut]


def mine_body(result: MineResult) -> dict[str, Any]:
    pairs = [{"source": p.source, "target": p.target, "score": p.score} for p in result.pairs]
    return {"model": result.model, "threshold": result.threshold, "pairs": pairs}


def routes(service: Service) -> list[BaseRoute]:
    mining: MiningService = service.mining

    @endpoint(service.core, MINE)
    async def mine(request: Request) -> Response:
        body = validate(MineRequest, await read_json(request, service.core))

        async def work() -> Response:
            return JSONResponse(mine_body(await mining.mine(body, api_token(request))))

        return await unless_client_leaves(request, work)

    return [Route("/v1/mine", mine, methods=["POST"])]


def openapi(components: Components) -> dict[str, Any]:
    return {
        "/v1/mine": {
            "post": operation(
                components,
                "Bitext mining: aligned (source, target) index pairs scoring at least the threshold",
                request=MineRequest,
                response=MineResponse,
                errors=(400, 401, 404, 408, 413, 415, 422, 429, 503, 504),
            )
        }
    }
