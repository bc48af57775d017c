"""HTTP serving shared by every local site: one threaded server per loopback address, a request log.

Role in the data flow: the wire between a local site and the crawler (or benchmark) that
fetches it. Linux routes all of 127.0.0.0/8 to the loopback interface, so each site gets its
own address (127.0.0.2, 127.0.0.3, … for the demo; 127.0.0.11, … for the benchmark) on one
shared port, and a crawler sees several hosts as it would on the web. What a site answers is
the caller's function ``respond(host, path) -> Response``; this module only speaks HTTP:
GET and HEAD, ``Content-Length``, conditional GET (``If-Modified-Since`` against the
response's ``Last-Modified``: 304) and the log of every request served.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple
from urllib.parse import urlsplit

from dealwatch.dates import parse_datetime, to_iso, utcnow

log = logging.getLogger(__name__)


class Response(NamedTuple):
    """One answer of a site: status, content type, body and extra headers (e.g. Last-Modified)."""
    status: int
    content_type: str
    body: bytes
    headers: Mapping[str, str] = {}


class Request(NamedTuple):
    """One request served, as the request log keeps it."""
    host: str
    path: str        # the request target as sent, query string included
    status: int


Responder = Callable[[str, str], Response]   # (host, path without query) -> Response


class RequestLog:
    """Every request served, in memory (thread-safe) and, when given a file, as JSON lines
    with the time and the User-Agent added."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._requests: list[Request] = []

    def record(self, request: Request, user_agent: str = "") -> None:
        with self._lock:
            self._requests.append(request)
            if self.path:
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"time": to_iso(utcnow()), "host": request.host, "path": request.path,
                                         "status": request.status, "user_agent": user_agent}) + "\n")

    @property
    def requests(self) -> list[Request]:
        """A copy of every request recorded so far."""
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()


def not_modified(if_modified_since: str | None, last_modified: str | None) -> bool:
    """True when a conditional GET may be answered 304: the page has not changed since then."""
    if not if_modified_since or not last_modified:
        return False
    since, modified = parse_datetime(if_modified_since), parse_datetime(last_modified)
    if since is None or modified is None:
        return False  # an unparsable date means "send the page", as RFC 9110 says
    return modified <= since


class _HostServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, owner: "LoopbackServers"):
        self.host = host
        self.owner = owner
        super().__init__((host, port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _HostServer
    protocol_version = "HTTP/1.1"

    @property
    def server_version(self) -> str:  # type: ignore[override]
        return self.server.owner.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.server.host, format % args)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
        self._answer(head=True)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._answer(head=False)

    def _answer(self, head: bool) -> None:
        owner, host = self.server.owner, self.server.host
        target = self.path if owner.full_target else urlsplit(self.path).path
        status, content_type, body, headers = owner.respond(host, target)
        if status == 200 and not_modified(self.headers.get("If-Modified-Since"), headers.get("Last-Modified")):
            status, body = 304, b""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if owner.request_log is not None:
            owner.request_log.record(Request(host, self.path, status), self.headers.get("User-Agent", ""))
        if not head:
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                log.debug("client closed %s%s early", host, self.path)


class LoopbackServers:
    """One threaded HTTP server per loopback address, all on one port, each in a background thread.

    ``hosts`` maps each address to a name (for threads and messages). A port that one of the
    addresses cannot bind stops them all with an OSError that says which. With ``full_target``
    the responder gets the request target with its query string (a search engine reads ``q``).
    """

    def __init__(self, hosts: Mapping[str, str], port: int, respond: Responder,
                 request_log: RequestLog | None = None, server_version: str = "DemoNews/1.0",
                 full_target: bool = False):
        self.full_target = full_target
        self.hosts = dict(hosts)
        self.port = port
        self.respond = respond
        self.request_log = request_log
        self.server_version = server_version
        self._servers: list[_HostServer] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> "LoopbackServers":
        for host, name in self.hosts.items():
            try:
                server = _HostServer(host, self.port, self)
            except OSError as exc:
                self.stop()
                raise OSError(f"cannot serve {name} on {host}:{self.port}: {exc} "
                              f"(is another server running there? choose another port)") from exc
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                      name=f"site-{name}", daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> "LoopbackServers":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` right now (another process may take it before it is bound)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
