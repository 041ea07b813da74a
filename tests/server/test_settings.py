"""One settings object: CLI flags are generated from it, env vars use the same names, flags win."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import build_parser
from cli.serve import settings_from
from lexsent.errors import InvalidInputError
from server.settings import ServerSettings


def test_every_setting_is_a_flag() -> None:
    parser = build_parser()
    args = parser.parse_args(["serve"])
    assert set(ServerSettings.model_fields) <= set(vars(args))


def test_flags_env_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEXSENT_HTTP_PORT", "9001")
    monkeypatch.setenv("LEXSENT_MODEL", "/m/a,/m/b")
    monkeypatch.setenv("LEXSENT_CORS_ORIGINS", "https://a.example")
    args = build_parser().parse_args(["serve", "--grpc-port", "9002", "--api-key", "k", "--long-input", "error"])
    given = {k: v for k, v in vars(args).items() if k in ServerSettings.model_fields and v is not None}
    settings = ServerSettings(**given)
    assert (settings.http_port, settings.grpc_port) == (9001, 9002)
    assert settings.model == [Path("/m/a"), Path("/m/b")]
    assert settings.cors_origins == ["https://a.example"]
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "k"
    assert settings.long_input.value == "error"
    assert settings.host == "127.0.0.1"  # safe default: loopback only
    repeated = settings_from(build_parser().parse_args(["serve", "--model", "/x", "--model", "/y"]))
    assert repeated.model == [Path("/x"), Path("/y")]  # the flag replaces the environment's list


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"tls_cert": Path("c.pem")}, "--tls-cert and --tls-key"),
        ({"max_queue": 10, "max_client_batch": 20}, "--max-queue"),
    ],
)
def test_inconsistent_settings_are_refused(options: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        ServerSettings(**options)  # type: ignore[arg-type]


def test_cli_reports_bad_flags_as_typed_errors() -> None:
    with pytest.raises(InvalidInputError, match="http_port"):
        settings_from(build_parser().parse_args(["serve", "--http-port", "70000"]))
