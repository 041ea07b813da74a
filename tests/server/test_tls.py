"""`--tls-cert/--tls-key` put both transports behind TLS (self-signed certificate made with openssl)."""

from __future__ import annotations

from pathlib import Path

import grpc
import httpx
import pytest
from lexsent_client import Client

from server.proto_gen import embeddings_pb2 as pb
from server.proto_gen import embeddings_pb2_grpc as pb_grpc
from tests.server.harness import running_server


def test_https_and_grpc_over_tls(tiny_bundle: Path, tls_pair: tuple[Path, Path]) -> None:
    cert, key = tls_pair
    with running_server([tiny_bundle], tls_cert=cert, tls_key=key) as running:
        assert running.http_url.startswith("https://")
        ok = httpx.post(f"{running.http_url}/v1/embeddings", json={"input": "secure"}, verify=str(cert))
        assert ok.status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.post(f"{running.http_url}/v1/embeddings", json={"input": "x"})  # untrusted certificate
        with Client(running.http_url, verify=str(cert)) as client:  # the client trusts the given CA bundle
            assert client.embed("secure").vectors[0] == pytest.approx(ok.json()["data"][0]["embedding"], abs=1e-6)
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        stub = pb_grpc.EmbeddingsStub(grpc.secure_channel(running.grpc_target, credentials))
        reply = stub.Embed(pb.EmbedRequest(texts=pb.Texts(values=["secure"])), timeout=10)
        assert list(reply.data[0].values) == pytest.approx(ok.json()["data"][0]["embedding"], abs=1e-6)
