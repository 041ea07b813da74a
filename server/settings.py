"""`ServerSettings`: the one definition of every `lexsent serve` option.

Each field is a CLI flag (`max_batch_tokens` ⇔ `--max-batch-tokens`, built by `cli/serve.py` from these
fields so flags and settings cannot drift) and an environment variable (`LEXSENT_MAX_BATCH_TOKENS`).
Validator messages leave the field out: `cli/serve.py` prefixes each with the flag and the variable.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from lexsent.encoder import CPU_RUN_TOKENS, CUDA_RUN_TOKENS
from lexsent.settings import CoreSettings
from lexsent.tokenizer import LongInputPolicy

# gRPC takes --max-body-bytes as its receive limit, a C int.
MAX_BODY_BYTES = 2**31 - 1
# Far above any core count (onnxruntime runs no faster with more threads than cores); an absurd value
# would otherwise reach onnxruntime's C int and fail there with a traceback.
MAX_THREADS = 1024


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


def _split(value: Any) -> Any:
    """Lists from the environment are comma-separated (`LEXSENT_MODEL=a,b`)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class ServerSettings(CoreSettings):
    host: str = Field("127.0.0.1", description="address both transports bind to")
    http_port: int = Field(8080, ge=0, le=65535, description="HTTP port")
    grpc_port: int = Field(50051, ge=0, le=65535, description="gRPC port")
    model: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="bundle directory to serve (repeatable); the first is the default"
    )
    models_dir: Path | None = Field(None, description="serve every bundle in this directory's subdirectories")
    default_model: str | None = Field(None, description="name of the model used when a request names none")
    api_key: SecretStr | None = Field(None, description="read-write API key (Authorization: Bearer KEY)")
    read_only_api_key: SecretStr | None = Field(None, description="API key that may only read (no writes)")
    max_batch_tokens: int = Field(8192, gt=0, description="tokens of waiting requests one model batch may gather")
    max_run_tokens: int | None = Field(
        None, gt=0, description="padded tokens per onnxruntime call (a packed graph's rows hold at most 512)"
    )
    batch_workers: int = Field(
        2, gt=0, le=16, description="batches per model run by onnxruntime at once (threads share --threads)"
    )
    # 50 ms: at concurrency 16 a second batch fills in 10-20 ms; a 15 ms bound lost most of the gain
    # (docs/server.md, "Balanced batches").
    batch_wait: float = Field(
        0.05,
        ge=0,
        le=1.0,
        description="seconds a queued request may wait for a fuller batch while another batch runs (0: never)",
    )
    max_client_batch: int = Field(2048, gt=0, description="most inputs one request may carry (more: 422)")
    max_body_bytes: int = Field(
        8 * 1024 * 1024, gt=0, le=MAX_BODY_BYTES, description="largest request body (more: 413; at most 2 GiB - 1)"
    )
    max_queue: int = Field(8192, gt=0, description="inputs waiting per model before requests get 429")
    request_timeout: float = Field(60.0, gt=0, description="seconds a request may take (more: 504)")
    drain_timeout: float = Field(30.0, ge=0, description="seconds in-flight requests get on SIGTERM")
    long_input: LongInputPolicy = Field(LongInputPolicy.TRUNCATE, description="inputs over max_length")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="origins allowed by CORS (repeatable); none: CORS off"
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host header names HTTP answers besides loopback names (repeatable; '*': any); none: only "
        "loopback names when bound to loopback (against DNS rebinding), else any",
    )
    tls_cert: Path | None = Field(None, description="PEM certificate: serve both transports over TLS")
    tls_key: Path | None = Field(None, description="PEM private key for --tls-cert")
    log_format: LogFormat = Field(LogFormat.JSON, description="log line format")
    snapshot_bytes: int = Field(
        64 << 20, gt=0, description="snapshot a collection once its write-ahead log grows past this"
    )
    max_collections: int = Field(
        1000, ge=1, description="most collections the data directory may hold (more: 409 limit_reached)"
    )

    _split_model = field_validator("model", "cors_origins", "allowed_hosts", mode="before")(_split)

    @field_validator("threads")
    @classmethod
    def _bounded_threads(cls, threads: int) -> int:
        if threads > MAX_THREADS:
            raise ValueError(f"at most {MAX_THREADS} (onnxruntime threads per model; more than cores only contend)")
        return threads

    @field_validator("api_key", "read_only_api_key")
    @classmethod
    def _usable_key(cls, key: SecretStr | None) -> SecretStr | None:
        """A key no request can match would lock every /v1 route, so refuse it rather than serve that
        (an empty one is what `-e LEXSENT_API_KEY=$KEY` gives when KEY is unset; treating it as no key
        would open the server instead)."""
        if key is None:
            return None
        value = key.get_secret_value()
        if not value.strip():
            raise ValueError("is empty, so no request could authenticate; set a key, or unset it to serve without one")
        if value != value.strip():
            raise ValueError("starts or ends with whitespace, which an Authorization header cannot carry")
        return key

    @model_validator(mode="after")
    def _consistent(self) -> ServerSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError(f"{option('tls_cert')} and {option('tls_key')} go together: give both or neither")
        if self.max_queue < self.max_client_batch:
            raise ValueError(
                f"{option('max_queue')} ({self.max_queue}) must be at least {option('max_client_batch')} "
                f"({self.max_client_batch}), or a request of that many inputs could never be queued"
            )
        return self

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


# For `lexsent serve --help` (cli/serve.py writes each flag's help from its field): the rule behind each
# default that is not one fixed value; where the machine decides it (a default factory), help shows the
# value it gives here too.
DEFAULT_RULES: dict[str, str] = {
    "data_dir": "$XDG_DATA_HOME/lexsent, else ~/.local/share/lexsent",
    "threads": "all cores",
    "max_run_tokens": f"{CPU_RUN_TOKENS} on CPU, {CUDA_RUN_TOKENS} with CUDA",
    "model": "the packaged all-MiniLM-L6-v2 (exported into --data-dir on first run), unless --models-dir is given",
    "default_model": "the first model served",
    "api_key": "none (no key needed)",
}


def flag(field: str) -> str:
    """The command-line flag of setting `field` (`http_port` → `--http-port`)."""
    return "--" + field.replace("_", "-")


def env_var(field: str) -> str:
    """The environment variable of setting `field` (`http_port` → `LEXSENT_HTTP_PORT`)."""
    return f"{ServerSettings.model_config.get('env_prefix', '')}{field.upper()}"


def option(field: str) -> str:
    """How a user names setting `field`, its flag and its variable (`--http-port / LEXSENT_HTTP_PORT`), for
    messages that tell them what to change; an unknown field raises, so a renamed one cannot go stale."""
    if field not in ServerSettings.model_fields:
        raise KeyError(f"no setting {field!r}")
    return f"{flag(field)} / {env_var(field)}"
