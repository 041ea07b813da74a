"""The committed gRPC stubs (server and client copies) are exactly what `make proto` generates, and the
packages' declared version floors admit only runtimes that can import them."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]


def test_generated_stubs_are_up_to_date() -> None:
    result = subprocess.run([sys.executable, "proto/build.py", "--check"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_proto_has_stubs_in_both_packages() -> None:
    protos = {p.stem for p in (REPO / "proto" / "lexsent" / "v1").glob("*.proto")}
    for target in ("server/proto_gen", "clients/python/lexsent_client/proto_gen"):
        stubs = {p.name.removesuffix("_pb2_grpc.py") for p in (REPO / target).glob("*_pb2_grpc.py")}
        assert stubs == protos, target


def generated_versions(stubs: Path) -> dict[str, Version]:
    """The protobuf and grpcio versions the committed stubs were generated for; older runtimes refuse them
    at import (protobuf's gencode check, grpc's GRPC_GENERATED_VERSION check)."""
    found = {}
    for path in stubs.glob("*_pb2*.py"):
        text = path.read_text()
        if match := re.search(r"^# Protobuf Python Version: (\S+)$", text, re.M):
            found["protobuf"] = Version(match.group(1))
        if match := re.search(r"^GRPC_GENERATED_VERSION = '(\S+)'$", text, re.M):
            found["grpcio"] = Version(match.group(1))
    return found


def floors(pyproject: Path) -> dict[str, Version]:
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = [
        *project["dependencies"],
        *(r for extra in project.get("optional-dependencies", {}).values() for r in extra),
    ]
    found = {}
    for requirement in map(Requirement, requirements):
        for spec in requirement.specifier:
            if spec.operator == ">=":
                found[requirement.name] = Version(spec.version)
    return found


def test_declared_floors_admit_only_runtimes_that_import_the_stubs() -> None:
    for pyproject, stubs in (
        (REPO / "pyproject.toml", REPO / "server/proto_gen"),
        (REPO / "clients/python/pyproject.toml", REPO / "clients/python/lexsent_client/proto_gen"),
    ):
        generated, declared = generated_versions(stubs), floors(pyproject)
        assert set(generated) == {"protobuf", "grpcio"}, stubs
        for package, version in generated.items():
            assert declared[package] >= version, f"{pyproject}: {package}>={declared[package]} but stubs need {version}"
