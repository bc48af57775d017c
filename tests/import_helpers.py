"""Helpers for the backfill tests (tests/test_import*.py): real WARC files, a real WARC server, real imports.

- :func:`demo_pages` renders the demo sites' article pages (the demo server's own HTML);
- :class:`WarcBuilder` writes WARC files with warcio (a real WARC writer): request + response
  pairs like a crawler's, and on demand the awkward records (revisit, PDF, truncated, a damaged
  gzip member);
- :class:`WarcServer` serves a folder over HTTP on loopback with ``Range`` support, and can cut a
  file's first transfer short (a stream interrupted mid-file);
- :func:`import_settings` gives a test its own index prefix and data directory, and
  :func:`run_import` runs ``dealwatch import`` in this process (:func:`import_process` in another).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from demo_sites.content import load_sites
from demo_sites.render import render_article
from demo_sites.sources_file import shipped_sources_file
from dealwatch.settings import Settings, set_settings
from indexer import store
from indexer.client import make_client
from indexer.import_checkpoints import index_name as checkpoints_index

REPO = Path(__file__).resolve().parents[1]
DEMO_SOURCES = shipped_sources_file()      # the demo's sources, for its sites on port 8080 (demo_pages)


@dataclass(frozen=True)
class Page:
    url: str
    html: bytes
    title: str
    site: str
    published: datetime


def demo_pages(port: int = 8080, edition: int = 1) -> list[Page]:
    """Every article page of the demo sites (edition 1, trouble site included), as the demo serves it."""
    out = []
    for site in load_sites(port=port):
        for a in site.visible_articles(edition):
            out.append(Page(a.url, render_article(site, a, edition).encode("utf-8"), a.title, site.name, a.published))
    return out


class WarcBuilder:
    """A WARC file written record by record with warcio; ``offsets`` of the response records."""

    def __init__(self, path: Path, gzip: bool = True):
        self.path = Path(path)
        self._fh = open(self.path, "wb")
        self._w = WARCWriter(self._fh, gzip=gzip, warc_version="WARC/1.1")
        self.offsets: dict[str, int] = {}
        self.digests: dict[str, str] = {}
        self._w.write_record(self._w.create_warcinfo_record(self.path.name, {"software": "warcio (tests)"}))

    def _write(self, record) -> int:
        offset = self._fh.tell()
        self._w.write_record(record)
        return offset

    def request(self, url: str) -> None:
        parts = url.split("/", 3)
        path = "/" + (parts[3] if len(parts) > 3 else "")
        http = StatusAndHeaders(f"GET {path} HTTP/1.1", [("Host", parts[2]), ("User-Agent", "tests")],
                                is_http_request=True)
        self._write(self._w.create_warc_record(url, "request", http_headers=http))

    def response(self, url: str, body: bytes, content_type: str = "text/html; charset=utf-8", status: int = 200,
                 extra_warc_headers: dict[str, str] | None = None, with_request: bool = True) -> int:
        if with_request:
            self.request(url)
        reason = {200: "OK", 404: "Not Found", 301: "Moved Permanently"}.get(status, "OK")
        http = StatusAndHeaders(f"{status} {reason}", [("Content-Type", content_type),
                                                       ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
        record = self._w.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                            warc_headers_dict=extra_warc_headers or {})
        offset = self._write(record)
        self.offsets[url] = offset
        self.digests[url] = record.rec_headers.get_header("WARC-Payload-Digest")
        return offset

    def revisit(self, url: str, of: str) -> int:
        """A revisit of ``url`` repeating the payload of the earlier response for ``of``."""
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        record = self._w.create_revisit_record(url, digest=self.digests[of], refers_to_uri=of,
                                               refers_to_date="2026-01-01T00:00:00Z", http_headers=http)
        return self._write(record)

    def close(self) -> Path:
        self._fh.close()
        return self.path


def write_pages(path: Path, pages: list[Page], gzip: bool = True) -> WarcBuilder:
    builder = WarcBuilder(path, gzip=gzip)
    for p in pages:
        builder.response(p.url, p.html)
    builder.close()
    return builder


def damage_member(path: Path, offset: int) -> None:
    """Overwrite bytes in the middle of the gzip member at ``offset`` (a member that no longer decompresses)."""
    data = bytearray(path.read_bytes())
    end = data.find(b"\x1f\x8b\x08", offset + 3)
    end = len(data) if end < 0 else end
    middle = (offset + end) // 2
    data[middle:middle + 24] = b"\x00" * 24
    path.write_bytes(bytes(data))
    # the damage is real: the member does not decompress any more
    try:
        zlib.decompressobj(31).decompress(bytes(data[offset:end]))
    except zlib.error:
        return
    raise AssertionError("the damaged member still decompresses")


class WarcServer:
    """Serves ``root`` on 127.0.0.1 (a random port) with Range support.

    ``cut[name] = n``: the first ``len(cut_times)`` transfers of that file stop after ``n`` bytes
    (the connection is closed mid-body)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.cut: dict[str, int] = {}
        self.cuts_left: dict[str, int] = {}
        self.requests: list[tuple[str, str]] = []      # (path, Range header)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802 - http.server's name
                rng = self.headers.get("Range", "")
                owner.requests.append((self.path, rng))
                path = owner.root / self.path.lstrip("/").split("?", 1)[0]
                if not path.is_file():
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = path.read_bytes()
                start = 0
                if rng.startswith("bytes="):
                    start = int(rng[6:].split("-", 1)[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                name = path.name
                if owner.cuts_left.get(name, 0) > 0:
                    owner.cuts_left[name] -= 1
                    self.wfile.write(body[:owner.cut[name]])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def cut_first(self, name: str, after_bytes: int, times: int = 1) -> None:
        self.cut[name] = after_bytes
        self.cuts_left[name] = times

    def __enter__(self) -> "WarcServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def import_settings(settings: Settings, tmp_path: Path, tag: str, **changes: Any) -> Settings:
    """Own index prefix and data directory; nothing left of an earlier run of the same tag."""
    s = settings.replace(index_prefix=f"{settings.index_prefix}{tag}-", data_dir=tmp_path / f"data-{tag}", **changes)
    drop(s)
    return s


def drop(s: Settings) -> None:
    store.drop_all(make_client(s), s, extra_patterns=[checkpoints_index(s)])


def run_import(s: Settings, *args: str, ok: bool = True):
    """``dealwatch import ARGS`` in this process (one worker), with these settings."""
    from dealwatch.cli import main

    set_settings(s)
    result = CliRunner().invoke(main, ["import", "-j", "1", *args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def import_env(s: Settings) -> dict[str, str]:
    """The environment that gives a child process exactly these settings."""
    return {**os.environ, **s.as_environment()}


def import_process(s: Settings, *args: str) -> subprocess.Popen:
    """``dealwatch import ARGS`` as its own process (to be killed)."""
    return subprocess.Popen([sys.executable, "-m", "dealwatch", "import", *args], cwd=REPO, env=import_env(s),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def documents(s: Settings) -> dict[str, dict]:
    """Every stored document by id (after a refresh)."""
    es = make_client(s)
    if not es.indices.exists_alias(name=s.articles_alias):
        return {}
    es.indices.refresh(index=s.articles_alias)
    hits = es.search(index=s.articles_alias, size=10_000, query={"match_all": {}})["hits"]["hits"]
    return {h["_id"]: h["_source"] for h in hits}


def checkpoints(s: Settings) -> list[dict]:
    es = make_client(s)
    if not es.indices.exists(index=checkpoints_index(s)):
        return []
    es.indices.refresh(index=checkpoints_index(s))
    return [h["_source"] for h in es.search(index=checkpoints_index(s), size=1000)["hits"]["hits"]]


def counts(s: Settings) -> dict[str, int]:
    """Every checkpoint's counts added up."""
    total: dict[str, int] = {}
    for cp in checkpoints(s):
        for pair in cp.get("counts") or []:
            total[pair["name"]] = total.get(pair["name"], 0) + pair["count"]
    return total
