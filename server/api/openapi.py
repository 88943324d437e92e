"""An OpenAPI 3.1 document built from the route registry and the pydantic body models."""

from __future__ import annotations

import re
from typing import Any

from server.api.registry import RouteSpec

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def openapi_document(routes: list[RouteSpec]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    for spec in routes:
        operation: dict[str, Any] = {
            "operationId": spec.handler.__name__,
            "summary": spec.summary,
            "description": f"Who may call: {spec.access}.",
            "tags": [spec.tag],
            "responses": {},
        }
        params = re.findall(r"{(\w+)}", spec.path)
        if params:
            operation["parameters"] = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
                for name in params
            ]
        if spec.body is not None:
            schema = spec.body.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[spec.body.__name__] = schema
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{spec.body.__name__}"}}
                },
            }
        for status, description in spec.responses.items():
            response: dict[str, Any] = {"description": description}
            if status >= 400:
                response["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            operation["responses"][str(status)] = response
        paths.setdefault(spec.path, {})[spec.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Aula", "version": "0.1.0", "description": "See docs/protocol.md."},
        "paths": paths,
        "components": {"schemas": schemas},
    }
