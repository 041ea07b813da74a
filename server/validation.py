"""Validate decoded request data into a pydantic schema, with one error message format for all transports."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from lexsent.errors import InvalidInputError

M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: Any) -> M:
    """The message lists (up to five) problems with their field paths, so callers know what to fix."""
    if not isinstance(data, dict):
        raise InvalidInputError(f"request body must be a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {_message(err)}" for err in exc.errors()[:5]
        )
        raise InvalidInputError(f"invalid request: {problems}") from None


def _message(error: Any) -> str:
    # Schemas of lexsent's own API forbid unknown fields, so a misspelt one (`top_k` for `k`) is not
    # silently ignored; OpenAI's embeddings request stays lenient for SDKs that send newer fields.
    if error["type"] == "extra_forbidden":
        return "unknown field (the request schemas are at /openapi.json)"
    return str(error["msg"])
