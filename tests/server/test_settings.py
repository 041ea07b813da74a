"""One settings object: CLI flags are generated from it, env vars use the same names, flags win."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import lexsent
from cli.main import build_parser
from cli.serve import settings_from
from exporter.default_model import DEFAULT_NAME
from lexsent.encoder import CPU_RUN_TOKENS, CUDA_RUN_TOKENS
from lexsent.errors import InvalidInputError
from server.core import Core
from server.embeddings import EmbeddingsService
from server.models import ModelRegistry
from server.settings import ServerSettings, option


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
        ({"tls_cert": Path("c.pem")}, "--tls-cert / LEXSENT_TLS_CERT and --tls-key / LEXSENT_TLS_KEY"),
        ({"max_queue": 10, "max_client_batch": 20}, "--max-queue"),
    ],
)
def test_inconsistent_settings_are_refused(options: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        ServerSettings(**options)  # type: ignore[arg-type]


def test_errors_name_the_flag_and_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Either may have set the value, and those are the names the user knows (not `http_port`)."""
    expected = r"^--http-port / LEXSENT_HTTP_PORT: Input should be less than or equal to 65535$"
    with pytest.raises(InvalidInputError, match=expected):
        settings_from(build_parser().parse_args(["serve", "--http-port", "70000"]))
    cross = (
        r"^--max-queue / LEXSENT_MAX_QUEUE \(1\) must be at least --max-client-batch / LEXSENT_MAX_CLIENT_BATCH "
        r"\(2\), or a request of that many inputs could never be queued$"
    )
    with pytest.raises(InvalidInputError, match=cross):
        settings_from(build_parser().parse_args(["serve", "--max-queue", "1", "--max-client-batch", "2"]))
    monkeypatch.setenv("LEXSENT_MAX_QUEUE", "10")  # the default --max-client-batch is 2048
    with pytest.raises(InvalidInputError, match=r"^--max-queue / LEXSENT_MAX_QUEUE \(10\) must be at least"):
        settings_from(build_parser().parse_args(["serve"]))
    monkeypatch.delenv("LEXSENT_MAX_QUEUE")
    tls = r"^--tls-cert / LEXSENT_TLS_CERT and --tls-key / LEXSENT_TLS_KEY go together: give both or neither$"
    with pytest.raises(InvalidInputError, match=tls):
        settings_from(build_parser().parse_args(["serve", "--tls-key", "k.pem"]))
    monkeypatch.setenv("LEXSENT_HTTP_PORT", "70000")
    with pytest.raises(InvalidInputError, match=expected):
        settings_from(build_parser().parse_args(["serve"]))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--api-key", ""], "--api-key / LEXSENT_API_KEY: is empty"),
        (["--api-key", "  "], "--api-key / LEXSENT_API_KEY: is empty"),
        (["--read-only-api-key", ""], "--read-only-api-key / LEXSENT_READ_ONLY_API_KEY: is empty"),
        (["--api-key", "key\n"], "--api-key / LEXSENT_API_KEY: starts or ends with whitespace"),
        # gRPC's receive limit is a C int.
        (["--max-body-bytes", str(2**31)], "--max-body-bytes / LEXSENT_MAX_BODY_BYTES: .* 2147483647"),
        (["--threads", "1025"], "--threads / LEXSENT_THREADS: at most 1024"),
        (["--max-collections", "0"], "--max-collections / LEXSENT_MAX_COLLECTIONS: .* greater than or equal to 1"),
        (["--batch-wait", "2"], "--batch-wait / LEXSENT_BATCH_WAIT: .* less than or equal to 1"),
        (["--batch-wait", "-0.01"], "--batch-wait / LEXSENT_BATCH_WAIT: .* greater than or equal to 0"),
    ],
)
def test_unusable_values_are_refused(flags: list[str], message: str) -> None:
    with pytest.raises(InvalidInputError, match=f"^{message}"):
        settings_from(build_parser().parse_args(["serve", *flags]))


def test_max_collections_from_flag_env_and_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings_from(build_parser().parse_args(["serve"])).max_collections == 1000
    monkeypatch.setenv("LEXSENT_MAX_COLLECTIONS", "5")
    assert settings_from(build_parser().parse_args(["serve"])).max_collections == 5
    assert settings_from(build_parser().parse_args(["serve", "--max-collections", "7"])).max_collections == 7
    monkeypatch.setenv("LEXSENT_MAX_COLLECTIONS", "0")
    with pytest.raises(InvalidInputError, match=r"^--max-collections / LEXSENT_MAX_COLLECTIONS: "):
        settings_from(build_parser().parse_args(["serve"]))


def test_batch_wait_from_flag_env_and_default_reaches_the_batchers(
    tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings_from(build_parser().parse_args(["serve"])).batch_wait == 0.05
    monkeypatch.setenv("LEXSENT_BATCH_WAIT", "0")
    settings = settings_from(build_parser().parse_args(["serve", "--model", str(tiny_bundle)]))
    assert settings.batch_wait == 0.0
    assert settings_from(build_parser().parse_args(["serve", "--batch-wait", "0.2"])).batch_wait == 0.2
    service = EmbeddingsService(Core(settings), ModelRegistry([lexsent.load(tiny_bundle, threads=1)]))
    assert [b.max_wait for b in service.batchers.values()] == [0.0]


def test_an_empty_key_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `docker run -e LEXSENT_API_KEY=$KEY` passes when KEY is unset: refused, not served as a
    server on which every /v1 request is a 401 (nor as an open one)."""
    monkeypatch.setenv("LEXSENT_API_KEY", "")
    with pytest.raises(InvalidInputError, match=r"^--api-key / LEXSENT_API_KEY: is empty"):
        settings_from(build_parser().parse_args(["serve"]))


def test_bounds_themselves_are_allowed() -> None:
    settings = settings_from(
        build_parser().parse_args(["serve", "--max-body-bytes", str(2**31 - 1), "--threads", "1024"])
    )
    assert (settings.max_body_bytes, settings.threads) == (2**31 - 1, 1024)


def test_option_names_the_flag_and_variable_of_a_real_setting_only() -> None:
    assert option("http_port") == "--http-port / LEXSENT_HTTP_PORT"
    assert option("max_collections") == "--max-collections / LEXSENT_MAX_COLLECTIONS"
    with pytest.raises(KeyError, match="no setting 'http_prot'"):
        option("http_prot")


def serve_help(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """`lexsent serve --help`, one entry per flag (its help text, whitespace collapsed)."""
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping (it would break paths at hyphens)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    options = capsys.readouterr().out.split("options:", 1)[1]
    entries: dict[str, str] = {}
    for chunk in re.split(r"\n  (?=--)", options)[1:]:
        flag, _, text = chunk.partition(" ")
        entries[flag] = " ".join(text.split())
    return entries


def test_help_shows_the_rule_behind_machine_defaults_and_the_value_here(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    entries = serve_help(monkeypatch, capsys)
    assert entries["--data-dir"].endswith(
        f"default: $XDG_DATA_HOME/lexsent, else ~/.local/share/lexsent (here: {tmp_path / 'lexsent'}))"
    )
    assert entries["--threads"].endswith(f"default: all cores (here: {os.cpu_count()}))")
    assert entries["--max-run-tokens"].endswith(f"default: {CPU_RUN_TOKENS} on CPU, {CUDA_RUN_TOKENS} with CUDA)")
    assert f"(default: {DEFAULT_NAME}" not in entries["--model"] and DEFAULT_NAME in entries["--model"]
    assert entries["--http-port"].endswith("(env LEXSENT_HTTP_PORT; default: 8080)")  # fixed ones as they are


def test_every_flag_has_a_description_and_no_help_says_none_or_brackets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = serve_help(monkeypatch, capsys)
    assert set(entries) == {"--" + name.replace("_", "-") for name in ServerSettings.model_fields}
    for flag, text in entries.items():
        described = text.split(" (env LEXSENT_", 1)[0].split(" ", 1)[-1]  # past the metavar
        assert described and described != flag[2:].replace("-", " "), flag  # not "data dir", "threads"
        assert "None" not in text and "[]" not in text, flag
