"""Optional protection of the whole UI by one token, and the timing header of every answer.

With ``ui_token`` set, every request needs ``Authorization: Bearer <token>``, HTTP basic auth
with the token as password, or ``?token=<token>`` once (a cookie remembers it). Static files
are always served, and so is the unsubscribe page of alert digests (its signed link is the permission).
"""

from __future__ import annotations

import base64
import hmac
import logging
import time

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from search_ui.errors import wants_json

log = logging.getLogger(__name__)

TOKEN_COOKIE = "dealwatch_token"
# pages whose own signed link is the permission (a digest's unsubscribe link works without logging in)
OPEN_PATHS = ("/alerts/unsubscribe",)


def token_of(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if auth.lower().startswith("basic "):
        try:
            user_pass = base64.b64decode(auth[6:]).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return ""
        return user_pass.partition(":")[2]
    return request.query_params.get("token") or request.cookies.get(TOKEN_COOKIE, "")


def install(app: FastAPI, token: str) -> None:
    """The edge middleware: authentication (when a token is set), timing, and one log line per request."""

    @app.middleware("http")
    async def timing_and_auth(request: Request, call_next):
        request.state.started = time.perf_counter()
        if token and not request.url.path.startswith("/static/") and request.url.path not in OPEN_PATHS:
            given = token_of(request)
            if not given or not hmac.compare_digest(given, token):
                if wants_json(request):
                    resp: Response = JSONResponse({"error": {"status": 401, "message": "authentication required: "
                                                             "send 'Authorization: Bearer <token>'"}},
                                                  status_code=401)
                else:
                    resp = HTMLResponse("<h1>Authentication required</h1><p>Open this page with ?token=… or "
                                        "log in with the token as password.</p>", status_code=401)
                resp.headers["WWW-Authenticate"] = 'Basic realm="DealWatch"'
                return resp
        response = await call_next(request)
        elapsed = (time.perf_counter() - request.state.started) * 1000
        response.headers["X-Render-Time"] = f"{elapsed:.1f}ms"
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if token and request.query_params.get("token") == token:
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        if not isinstance(response, StreamingResponse) or not request.url.path.startswith(("/export", "/api/export")):
            log.info("%s %s %s %.1fms", request.method, request.url.path, response.status_code, elapsed)
        return response
