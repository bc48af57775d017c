"""Errors at the web edge, answered once: the archive's exceptions and bad requests to HTTP status.

Every view lets exceptions rise; the handlers installed here turn them into an HTML error page
or ``{"error": {"status", "message"}}`` for the API and exports (Warehouse's views answer 503 on
a transport error the same way). No stack trace and no credential ever reaches the client.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from indexer.errors import (ArchiveConflict, ArchiveError, ArchiveFailure, ArchiveMissing, ArchiveUnavailable,
                            BadQuery)

log = logging.getLogger(__name__)

# the archive's exceptions -> HTTP status
STATUS = {
    BadQuery: 400,
    ArchiveConflict: 409,
    ArchiveFailure: 502,
    ArchiveUnavailable: 503,
    ArchiveMissing: 503,
}


class NotFound(Exception):
    """Nothing at this address (an unknown article or entity id); the message says what was asked."""


def shown(value: str, limit: int = 80) -> str:
    """What a request asked for, quoted for a message (a hostile 100,000-character id is not echoed whole)."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def status_of(exc: ArchiveError) -> int:
    for kind, status in STATUS.items():
        if isinstance(exc, kind):
            return status
    return 500


def json_error_path(path: str) -> bool:
    """Errors at this path are JSON (the API, JSON downloads); elsewhere an HTML page for a person."""
    return path.startswith("/api/") or path.endswith((".json", ".jsonl"))


def wants_json(request: Request) -> bool:
    return json_error_path(request.url.path)


def error_response(request: Request, status: int, message: str) -> Response:
    if wants_json(request):
        return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)
    templates = request.app.state.templates
    return templates.TemplateResponse(request, "error.html", {"status": status, "message": message},
                                      status_code=status)


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""

    @app.exception_handler(ArchiveError)
    async def on_archive_error(request: Request, exc: ArchiveError):
        status = status_of(exc)
        if status >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
        return error_response(request, status, str(exc))

    @app.exception_handler(NotFound)
    async def on_not_found(request: Request, exc: NotFound):
        return error_response(request, 404, str(exc))

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError):
        return error_response(request, 400, validation_message(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = f"Nothing here: {shown(request.url.path)}"
        response = error_response(request, exc.status_code, message)
        for k, v in (exc.headers or {}).items():
            response.headers[k] = v
        return response

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return error_response(request, 500, "Something went wrong on our side; the error has been logged.")


def validation_message(errors: list[dict]) -> str:
    """The sentence for a request FastAPI could not read: our parameter messages as they are."""
    for e in errors:
        err = (e.get("ctx") or {}).get("error")
        if isinstance(err, BadQuery):
            return str(err)
        if e.get("type") == "bad_search_parameter":
            return str(e.get("msg"))
    message = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}" for e in errors)
    return message or "invalid request"
