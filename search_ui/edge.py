"""The edge of the web app: what every request passes before a view, and every answer after it.

One pure ASGI middleware (not Starlette's ``BaseHTTPMiddleware``, which would turn a stream that
fails half-way into a cleanly ended one, and costs a copy of every chunk), in this order:

1. the Host header must be one of the settings' ``allowed_hosts`` (400 otherwise), so a forged
   Host never reaches the absolute links of the feeds or a redirect;
2. the request target may be at most ``ui_max_url_bytes`` long (414), before anything parses it;
3. with ``ui_token`` set, the request must present the token or a valid session cookie
   (``search_ui/auth.py``; 401 otherwise). A page opened with ``?token=`` gets the cookie and is
   redirected to its address without the token, so the token stays out of the history;
4. on the way out: ``X-Render-Time``, headers that keep pages from being sniffed, framed or
   leaking their address to other sites, and one log line per request (streamed exports are
   logged when they end, with how they ended).
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlencode

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dealwatch.settings import Settings
from search_ui import auth
from search_ui.errors import error_response, wants_json

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
}
_DOWNLOADS = ("/api/", "/export.", "/feed.atom", "/histogram.csv", "/openapi.json", "/static/")


def host_allowed(host_header: str, allowed: tuple[str, ...]) -> bool:
    """The Host header's name (without the port) is one of ``allowed`` (``*`` any, ``*.x`` a subdomain of x)."""
    host = host_header.strip().lower()
    if host.startswith("["):                       # [::1]:8000
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    host = host.rstrip(".")
    for pattern in allowed:
        if pattern == "*" or host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


def is_page(request: HTTPConnection) -> bool:
    """A page a browser shows (not the API, a download, a feed, a static file)."""
    return not request.url.path.startswith(_DOWNLOADS) and not wants_json(request)


class Edge:
    """The middleware (see the module docstring)."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.token = settings.ui_token
        self.session_days = settings.ui_session_days
        self.allowed_hosts = settings.allowed_hosts
        self.max_url_bytes = settings.ui_max_url_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope.setdefault("state", {})["started"] = started       # request.state.started (the footer's time)
        request = HTTPConnection(scope)
        cookie: tuple[str, int] | None = None
        refusal = self._refusal(request)
        if (refusal is None and self.token and not request.url.path.startswith("/static/")
                and request.url.path not in auth.OPEN_PATHS):
            given = auth.presented_token(request)
            if auth.token_matches(given, self.token):
                if request.query_params.get(auth.TOKEN_PARAM) is not None:
                    cookie = auth.session_cookie(self.token, self.session_days)
                    if scope["method"] == "GET" and is_page(request):
                        refusal = RedirectResponse(_without_token(request), status_code=303)
            elif not auth.valid_session(request, self.token):
                refusal = _unauthenticated(request)
        outcome = {"status": 0, "streamed": False}

        async def send_out(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Render-Time"] = f"{(time.perf_counter() - started) * 1000:.1f}ms"
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if cookie is not None:
                    headers.append("set-cookie", _cookie_header(*cookie, secure=scope.get("scheme") == "https"))
            elif message["type"] == "http.response.body" and message.get("more_body"):
                outcome["streamed"] = True
            await send(message)

        try:
            if refusal is not None:
                await refusal(scope, receive, send_out)
            else:
                await self.app(scope, receive, send_out)
        except BaseException as exc:
            if outcome["status"]:   # the answer had started: the client sees an incomplete transfer
                log.warning("%s %s %s aborted after %.1fms: %s", scope["method"], request.url.path, outcome["status"],
                          (time.perf_counter() - started) * 1000, exc)
            raise
        log.info("%s %s %s %.1fms", scope["method"], request.url.path, outcome["status"],
                 (time.perf_counter() - started) * 1000)

    def _refusal(self, request: HTTPConnection):
        host = request.headers.get("host", "")
        if not host_allowed(host, self.allowed_hosts):
            return error_response(request, 400, f"This server does not answer for the host {host[:100]!r}: "
                                                "list it in DEALWATCH_UI_ALLOWED_HOSTS.")
        size = len(request.scope.get("raw_path") or b"") + len(request.scope.get("query_string") or b"")
        if size > self.max_url_bytes:
            return error_response(request, 414, f"The address is {size:,} bytes long; the limit is "
                                                f"{self.max_url_bytes:,} (DEALWATCH_UI_MAX_URL_BYTES): use fewer "
                                                "filter values or a shorter query.")
        return None


def _unauthenticated(request: HTTPConnection):
    if is_page(request):
        message = ("Authentication required: open this page with ?token=… once, or log in with the token as "
                   "password.")
    else:
        message = "authentication required: send 'Authorization: Bearer <token>'"
    response = error_response(request, 401, message)
    response.headers["WWW-Authenticate"] = 'Basic realm="DealWatch"'
    return response


def _without_token(request: HTTPConnection) -> str:
    """The request's address (relative: no Host involved) without ``token=``."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != auth.TOKEN_PARAM]
    return request.url.path + ("?" + urlencode(query) if query else "")


def _cookie_header(value: str, max_age: int, secure: bool) -> str:
    parts = [f"{auth.TOKEN_COOKIE}={value}", "Path=/", f"Max-Age={max_age}",
             time.strftime("Expires=%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + max_age)),
             "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def install(app, settings: Settings) -> None:
    app.add_middleware(Edge, settings=settings)
