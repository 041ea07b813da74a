"""`lexsent.v1.Mining` over the same `MiningService` as `POST /v1/mine` (messages → `MineRequest`)."""

from __future__ import annotations

from typing import Any

import grpc

from lexsent.margin import MiningStrategy, Scoring
from server.grpc.common import add_servicer, api_token, enum_value, rpc
from server.mining import MINE, MineRequest, MineResult, MiningService
from server.proto_gen import mining_pb2 as pb
from server.proto_gen import mining_pb2_grpc as pb_grpc
from server.service import Service
from server.validation import validate

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["Mining"].full_name
_SCORING = {pb.MINING_SCORING_MARGIN: Scoring.MARGIN, pb.MINING_SCORING_COSINE: Scoring.COSINE}
_STRATEGY = {
    pb.MINING_STRATEGY_MAX: MiningStrategy.MAX,
    pb.MINING_STRATEGY_INTERSECT: MiningStrategy.INTERSECT,
    pb.MINING_STRATEGY_FORWARD: MiningStrategy.FORWARD,
    pb.MINING_STRATEGY_BACKWARD: MiningStrategy.BACKWARD,
}


def to_request(message: Any) -> MineRequest:
    body: dict[str, Any] = {
        "source": list(message.source),
        "target": list(message.target),
        "model": message.model or None,
        "scoring": enum_value(_SCORING, message.scoring, "scoring", Scoring.MARGIN),
        "strategy": enum_value(_STRATEGY, message.strategy, "strategy", MiningStrategy.MAX),
    }
    if message.HasField("k"):
        body["k"] = message.k
    if message.HasField("threshold"):
        body["threshold"] = message.threshold
    return validate(MineRequest, body)


def to_response(result: MineResult) -> Any:
    pairs = [pb.MinedPair(source=p.source, target=p.target, score=p.score) for p in result.pairs]
    return pb.MineResponse(model=result.model, threshold=result.threshold, pairs=pairs)


class MiningServicer(pb_grpc.MiningServicer):
    def __init__(self, mining: MiningService) -> None:
        self.mining = mining
        self.core = mining.core

    @rpc(MINE)
    async def Mine(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        return to_response(await self.mining.mine(to_request(request), api_token(context)))


def register(server: grpc.aio.Server, service: Service) -> None:
    add_servicer(pb_grpc.add_MiningServicer_to_server, MiningServicer(service.mining), server)
