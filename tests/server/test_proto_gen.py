"""The committed gRPC stubs (server and client copies) are exactly what `make proto` generates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_generated_stubs_are_up_to_date() -> None:
    result = subprocess.run([sys.executable, "proto/build.py", "--check"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_proto_has_stubs_in_both_packages() -> None:
    protos = {p.stem for p in (REPO / "proto" / "lexsent" / "v1").glob("*.proto")}
    for target in ("server/proto_gen", "clients/python/lexsent_client/proto_gen"):
        stubs = {p.name.removesuffix("_pb2_grpc.py") for p in (REPO / target).glob("*_pb2_grpc.py")}
        assert stubs == protos, target
