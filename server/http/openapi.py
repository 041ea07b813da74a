"""OpenAPI 3.1 document assembled from each route module's contribution and its pydantic schemas."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


class Components:
    """Collects the component schemas referenced by the paths."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}

    def ref(self, model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        self.schemas.update(schema.pop("$defs", {}))
        self.schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def operation(
    components: Components,
    summary: str,
    *,
    request: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    errors: tuple[int, ...] = (),
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {}}
    if request is not None:
        op["requestBody"] = {"required": True, **_json(components.ref(request))}
    ok: dict[str, Any] = {"description": "OK"}
    if response is not None:
        ok.update(_json(components.ref(response)))
    op["responses"]["200"] = ok
    error_ref = {"$ref": "#/components/schemas/Error"}
    for status in errors:
        op["responses"][str(status)] = {"description": "error", **_json(error_ref)}
    return op


def _with_path_parameters(paths: dict[str, Any]) -> dict[str, Any]:
    """Declare each `{name}` of a path template as a required string path parameter, unless declared."""
    out: dict[str, Any] = {}
    for template, item in paths.items():
        names = re.findall(r"{(\w+)}", template)
        if names and "parameters" not in item:
            string = {"type": "string"}
            params = [{"name": n, "in": "path", "required": True, "schema": string} for n in names]
            item = {"parameters": params, **item}
        out[template] = item
    return out


def document(paths: dict[str, Any], components: Components, version: str) -> dict[str, Any]:
    paths = _with_path_parameters(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "lexsent", "version": version},
        "components": {
            "schemas": components.schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"bearer": []}],
        "paths": paths,
    }
