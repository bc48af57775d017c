"""The OpenAPI document (``/openapi.json``, rendered at ``/docs``) as the app really answers.

FastAPI's generated document is right about the parameters and the successful answers (the
response models, and the media type of each export's response class), but it documents a 422
validation error the app never sends: ``search_ui/errors.py`` answers 400 with
``{"error": {"status", "message"}}`` (an HTML page for the downloads a person clicks), 404 for an
unknown id, 414 for an address over ``ui_max_url_bytes``, 502/503 when the archive fails, and
401 when a token is set. This module rewrites the error answers of every operation accordingly,
once, when the document is first asked for.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from search_ui.errors import json_error_path

ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["status", "message"], "properties": {
        "status": {"type": "integer", "description": "The HTTP status again"},
        "message": {"type": "string", "description": "What went wrong and what to do instead"}}}},
}
_ERRORS = {
    "400": "A malformed query or parameter (the message says what to write instead)",
    "414": "The address is longer than the ui_max_url_bytes setting",
    "502": "The search index answered with an error that is nobody's input fault",
    "503": "Elasticsearch is not reachable, too slow, or there is no archive yet",
}


def document(app: FastAPI, token_required: bool) -> dict[str, Any]:
    spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Error"] = ERROR_SCHEMA
    for path, operations in spec.get("paths", {}).items():
        if json_error_path(path):
            content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        else:
            content = {"text/html": {"schema": {"type": "string"}}}
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            errors = dict(_ERRORS)
            if "{" in path:
                errors["404"] = "No such article or entity"
            if token_required:
                errors["401"] = "The token is missing or wrong (Authorization: Bearer <token>)"
            for status, description in sorted(errors.items()):
                responses.setdefault(status, {"description": description, "content": content})
    return spec


def install(app: FastAPI, token_required: bool) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app, token_required)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
