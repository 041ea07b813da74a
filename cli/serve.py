"""`lexsent serve`: HTTP + gRPC embeddings server.

Every flag is generated from `server.settings.ServerSettings`, so flags, environment variables
(`LEXSENT_<FLAG>`) and defaults have one definition. A flag given on the command line wins over the
environment; the environment wins over the default.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import types
import typing
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo

if TYPE_CHECKING:
    from server.settings import ServerSettings


def _scalar(annotation: Any) -> Any:
    """The flag's value type: `int | None` → int, `list[Path]` → Path, `SecretStr` → str."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _scalar(args[0])
    if origin in (list, types.UnionType, typing.Union):
        return _scalar(args[0])
    return str if annotation is SecretStr else annotation


def _shown_default(name: str, field: FieldInfo) -> str:
    """What help says the default is: the rule for one that is not one fixed value, with the value it
    gives on this machine where the machine decides it (`$XDG_DATA_HOME/lexsent (here: /home/u/...)`)."""
    from server.settings import DEFAULT_RULES

    default = field.get_default(call_default_factory=True)
    rule = DEFAULT_RULES.get(name)
    if rule is not None:
        decided_here = field.default_factory is not None and not isinstance(default, list)
        return f"{rule} (here: {default})" if decided_here else rule
    if default is None or default == []:
        return "none"
    return str(default.get_secret_value() if isinstance(default, SecretStr) else default)


def _add_flag(parser: argparse.ArgumentParser, name: str, field: FieldInfo) -> None:
    from server.settings import env_var, flag

    kind = _scalar(field.annotation)
    default = field.get_default(call_default_factory=True)
    if not field.description:
        raise TypeError(f"setting {name!r} has no description for --help")
    description = field.description
    help_text = f"{description} (env {env_var(name)}; default: {_shown_default(name, field)})"
    help_text = help_text.replace("%", "%%")  # argparse formats help with %
    options: dict[str, Any] = {"dest": name, "default": None, "help": help_text}
    if isinstance(kind, type) and issubclass(kind, Enum):
        options["choices"] = [member.value for member in kind]
    elif kind in (int, float, Path, str):
        options["type"] = kind
    if typing.get_origin(field.annotation) is typing.Annotated or isinstance(default, list):
        options["action"] = "append"
        options["metavar"] = name.upper().removesuffix("S")
    parser.add_argument(flag(name), **options)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (uvicorn[standard] brings it): cheaper HTTP handling; grpc.aio runs on it too."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from server.settings import ServerSettings

    parser = sub.add_parser("serve", help="serve embeddings over HTTP and gRPC", description=__doc__)
    for name, field in ServerSettings.model_fields.items():
        _add_flag(parser, name, field)
    parser.set_defaults(func=run)


def settings_from(args: argparse.Namespace) -> ServerSettings:
    """Flags given on the command line, over `LEXSENT_*` variables, over defaults."""
    from pydantic import ValidationError

    from lexsent.errors import InvalidInputError
    from server.settings import ServerSettings

    given = {k: v for k, v in vars(args).items() if k in ServerSettings.model_fields and v is not None}
    try:
        return ServerSettings(**given)
    except ValidationError as exc:
        raise InvalidInputError("; ".join(_problem(e["loc"], e["msg"]) for e in exc.errors())) from None


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    """`--http-port / LEXSENT_HTTP_PORT: ...`: a value may come from either, and the user knows those
    names, not the field's. Cross-field checks (no `loc`) name their flags themselves."""
    from server.settings import option

    message = message.removeprefix("Value error, ")
    return f"{option(str(loc[0]))}: {message}" if loc else message


def _bundles(settings: ServerSettings) -> list[Path]:
    """The bundles to serve; the default model (exported on first use) only when none is named, never
    in place of a `--models-dir` that holds none (a typo or an unpopulated volume)."""
    from lexsent.errors import BundleError
    from lexsent.manifest import MANIFEST_FILE
    from server.models import bundle_dirs
    from server.settings import option

    paths = bundle_dirs(settings.model, settings.models_dir)
    if settings.models_dir is not None and len(paths) == len(settings.model):
        raise BundleError(
            f"{option('models_dir')}: {settings.models_dir} holds no bundle: each bundle is a subdirectory "
            f"with a {MANIFEST_FILE}, model.onnx and tokenizer.json, as `lexsent export --out DIR` writes"
        )
    if not paths:
        from exporter.default_model import ensure_default_model

        instead = f"or serve a bundle exported elsewhere with {option('model')} or {option('models_dir')}"
        paths = [ensure_default_model(settings.data_dir, instead=instead)]
    return paths


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    from server import logs

    logs.configure(settings.log_format)
    from server.models import ModelRegistry

    models = ModelRegistry.load(
        _bundles(settings),
        threads=settings.threads,
        max_run_tokens=settings.max_run_tokens,
        long_input=settings.long_input,
        default=settings.default_model,
    )
    from server.runner import Runner
    from server.service import Service

    async def serve() -> None:  # the gRPC server must be built inside the running loop
        runner = Runner(Service(settings, models))
        # What startup built (models, routes, schemas, both servers) lives as long as this process;
        # frozen, the collector's full passes stop walking it every few thousand allocations: -0.08 ms
        # of event-loop CPU per request at concurrency 16 (docs/server.md). Here, not in `Runner`, which
        # tests run in-process: there it would freeze the test session's garbage too.
        gc.collect()
        gc.freeze()
        await runner.serve()

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(serve())
    return 0
