"""Assemble the grpc.aio server: one servicer module per proto service, plus health and reflection.

To add a concept, write `server/grpc/<concept>.py` with `SERVICE_NAME` and `register(server, service)`
and append the module to `SERVICER_MODULES`.
"""

from __future__ import annotations

from types import ModuleType

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from lexsent.errors import InvalidInputError
from server.grpc import collections, embeddings, mining
from server.lifecycle import State
from server.service import Service
from server.settings import option

SERVICER_MODULES: tuple[ModuleType, ...] = (embeddings, collections, mining)


class GrpcServer:
    """The grpc.aio server with its health servicer, which follows the service's readiness."""

    def __init__(self, service: Service) -> None:
        settings = service.settings
        self._lifecycle = service.core.lifecycle
        limit = settings.max_body_bytes
        self.server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", -1),
                # grpc's default would let a second server bind the same port and take part of its calls.
                ("grpc.so_reuseport", 0),
            ]
        )
        names = [module.SERVICE_NAME for module in SERVICER_MODULES]
        for module in SERVICER_MODULES:
            module.register(self.server, service)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server)
        self._names = ["", *names]
        address = f"{settings.host}:{settings.grpc_port}"
        try:
            if settings.tls_cert is not None and settings.tls_key is not None:
                key, cert = settings.tls_key.read_bytes(), settings.tls_cert.read_bytes()
                self.port = self.server.add_secure_port(address, grpc.ssl_server_credentials([(key, cert)]))
            else:
                self.port = self.server.add_insecure_port(address)
        except RuntimeError:  # "Failed to bind"; the runner has checked the TLS files and probed the port
            raise InvalidInputError(
                f"cannot listen for gRPC on {address} ({option('host')}, {option('grpc_port')}): "
                "the port is in use or the address is not one of this machine's"
            ) from None

    async def follow(self, state: State) -> None:
        """Publish the lifecycle state to gRPC health checks (SERVING only while READY)."""
        response = health_pb2.HealthCheckResponse
        status = response.SERVING if state is State.READY else response.NOT_SERVING
        for name in self._names:
            await self.health.set(name, status)

    async def start(self) -> None:
        await self.server.start()
        await self.follow(self._lifecycle.state)

    async def stop(self, grace: float) -> None:
        await self.server.stop(grace)
