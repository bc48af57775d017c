"""Real servers on loopback for the alert tests: an SMTP server (aiosmtpd) and a webhook receiver,
each told how to answer; and articles written into the archive as if just crawled.

* :class:`Mailroom` — aiosmtpd's ``Controller`` on a free port; every accepted message is kept as
  bytes and parsed back with Python's ``email`` package (default policy). ``refusals`` is a queue of
  SMTP replies (e.g. ``"451 4.3.0 try again later"``) given to the next DATA commands instead of
  accepting them.
* :class:`Hook` — a threading HTTP server; every POST is kept (headers, body); ``plan`` is a queue of
  answers for the next requests: an HTTP status, or ``("sleep", seconds)`` to answer 200 too late.
"""

from __future__ import annotations

import collections
import email
import json
import socket
import threading
import time
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

import search_archive as sa
from dealwatch.dates import to_iso, utcnow
from indexer import store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- SMTP ------------------------------------------------------------------------------

class _Handler:
    def __init__(self, room: "Mailroom"):
        self.room = room

    async def handle_DATA(self, server, session, envelope):
        with self.room.lock:
            if self.room.refusals:
                self.room.refused += 1
                return self.room.refusals.popleft()
            self.room.raw.append((list(envelope.rcpt_tos), bytes(envelope.original_content or envelope.content)))
        return "250 2.0.0 Message accepted for delivery"


class Mailroom:
    def __init__(self):
        self.lock = threading.Lock()
        self.raw: list[tuple[list[str], bytes]] = []
        self.refusals: collections.deque[str] = collections.deque()
        self.refused = 0
        self.port = free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> "Mailroom":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [email.message_from_bytes(raw, policy=policy.default) for _, raw in self.raw]

    def wait_for(self, n: int, timeout: float = 60.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.raw) >= n:
                return self.messages
            time.sleep(0.1)
        raise AssertionError(f"{len(self.raw)} of {n} messages arrived within {timeout}s")


def smtp_settings(settings, room: Mailroom, **changes):
    return settings.replace(smtp_host="127.0.0.1", smtp_port=room.port, smtp_security="none",
                            smtp_from="Monitoring Łódź <alerts@dealwatch.test>", public_url="http://ui.test:8000",
                            **changes)


def parts(msg: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies of a digest."""
    return msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


# --- webhooks --------------------------------------------------------------------------

@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Hook:
    requests: list[Received] = field(default_factory=list)
    plan: collections.deque = field(default_factory=collections.deque)
    server: ThreadingHTTPServer | None = None

    def start(self) -> "Hook":
        hook = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                answer = hook.plan.popleft() if hook.plan else 200
                if isinstance(answer, tuple) and answer[0] == "sleep":
                    time.sleep(answer[1])
                    answer = 200
                self.send_response(answer)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if answer < 300 else b"no thanks")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000/secret-part"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- articles crawled "now" -------------------------------------------------------------

_docs: dict[str, dict] = {}


def write_articles(es, settings, keys: list[str], crawled_at: datetime | None = None, **changes: Any) -> dict[str, str]:
    """Write the hand-written test articles ``keys`` as crawled at ``crawled_at`` (default now); key -> id."""
    when = to_iso(crawled_at or utcnow())
    docs = []
    for key in keys:
        if key not in _docs:
            _docs[key] = sa.document_for(sa.BY_KEY[key], settings)
        doc = deepcopy(_docs[key])
        doc.update(crawled_at=when, updated_at=when, **changes)
        docs.append(doc)
    result = store.write_documents(es, settings, docs, refresh="wait_for")
    assert result.failed == 0, result.errors
    return {k: d["id"] for k, d in zip(keys, docs)}
