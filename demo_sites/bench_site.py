"""A local multi-host news site serving the real pages of ``news-pages/`` on loopback.

Each page gets a generated path (``/a/<n>.html``; the manifest's url can be null) on one of
several hosts (127.0.0.11, .12, … on one port). Every host has a home page linking its
section pages (paginated article lists), an RSS feed of its newest articles and a sitemap
of all of them, so a crawler can start from any of the three. The server runs in its own
process so its CPU never counts towards the crawler being measured.
"""

from __future__ import annotations

import multiprocessing as mp
import socket
import threading
import time
from dataclasses import dataclass
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from html import escape
from pathlib import Path

import yaml

from bench.corpus import NewsPage

SECTION_SIZE = 25
FEED_SIZE = 100


@dataclass(frozen=True)
class SiteLayout:
    hosts: tuple[str, ...]
    port: int
    routes: dict[tuple[str, str], bytes]      # (host, path) -> body
    types: dict[tuple[str, str], str]          # (host, path) -> content type
    article_urls: tuple[str, ...]

    def base(self, host: str) -> str:
        return f"http://{host}:{self.port}"

    def sources(self) -> list[dict]:
        """The sources YAML entries (one source per host) for the crawler."""
        out = []
        for i, host in enumerate(self.hosts):
            base = self.base(host)
            out.append({
                "name": f"bench-{i + 1}", "language": "en", "homepage": f"{base}/",
                "sections": [f"{base}/section/1/"], "feeds": [f"{base}/feed.xml"],
                "sitemaps": [f"{base}/sitemap.xml"], "allowed_domains": [host], "article_patterns": ["^/a/"],
            })
        return out

    def write_sources(self, path: Path) -> list[str]:
        entries = self.sources()
        path.write_text(yaml.safe_dump({"sources": entries}, sort_keys=False), encoding="utf-8")
        return [e["name"] for e in entries]


def free_port(host: str = "127.0.0.11") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def build_layout(pages: tuple[NewsPage, ...], n_hosts: int = 4, port: int | None = None) -> SiteLayout:
    hosts = tuple(f"127.0.0.{11 + i}" for i in range(n_hosts))
    port = port or free_port(hosts[0])
    routes: dict[tuple[str, str], bytes] = {}
    types: dict[tuple[str, str], str] = {}
    per_host: dict[str, list[tuple[str, str]]] = {h: [] for h in hosts}
    urls = []
    for n, page in enumerate(pages):
        host = hosts[n % n_hosts]
        path = f"/a/{n}.html"
        routes[(host, path)] = page.html
        types[(host, path)] = "text/html"
        title = page.record.get("gt_title") or page.key
        per_host[host].append((path, title))
        urls.append(f"http://{host}:{port}{path}")
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for host, items in per_host.items():
        base = f"http://{host}:{port}"
        n_sections = max(1, -(-len(items) // SECTION_SIZE))
        home = ["<html><head><title>Bench news</title></head><body><h1>Bench news</h1><ul>"]
        home += [f'<li><a href="/section/{s}/">Section {s}</a></li>' for s in range(1, n_sections + 1)]
        home.append("</ul></body></html>")
        _put(routes, types, host, "/", "".join(home).encode(), "text/html; charset=utf-8")
        for s in range(1, n_sections + 1):
            chunk = items[(s - 1) * SECTION_SIZE: s * SECTION_SIZE]
            body = [f"<html><head><title>Section {s}</title></head><body><h1>Section {s}</h1><ul>"]
            body += [f'<li><a href="{p}">{escape(t)}</a></li>' for p, t in chunk]
            body.append("</ul>")
            if s < n_sections:
                body.append(f'<a rel="next" href="/section/{s + 1}/">Next page</a>')
            body.append("</body></html>")
            _put(routes, types, host, f"/section/{s}/", "".join(body).encode(), "text/html; charset=utf-8")
        feed = ['<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Bench news</title>'
                f"<link>{base}/</link><description>bench</description>"]
        for i, (p, t) in enumerate(items[:FEED_SIZE]):
            feed.append(f"<item><title>{escape(t)}</title><link>{base}{p}</link>"
                        f"<pubDate>{format_datetime(now - timedelta(hours=i))}</pubDate></item>")
        feed.append("</channel></rss>")
        _put(routes, types, host, "/feed.xml", "".join(feed).encode(), "application/rss+xml")
        sitemap = ['<?xml version="1.0" encoding="UTF-8"?>'
                   '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
        sitemap += [f"<url><loc>{base}{p}</loc></url>" for p, _ in items]
        sitemap.append("</urlset>")
        _put(routes, types, host, "/sitemap.xml", "".join(sitemap).encode(), "application/xml")
        _put(routes, types, host, "/robots.txt", f"User-agent: *\nAllow: /\nSitemap: {base}/sitemap.xml\n".encode(),
             "text/plain")
    return SiteLayout(hosts, port, routes, types, tuple(urls))


def _put(routes, types, host, path, body, ctype):
    routes[(host, path)] = body
    types[(host, path)] = ctype


def _serve(layout: SiteLayout, ready) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 (http.server's name)
            host = self.headers.get("Host", "").split(":")[0] or self.server.server_address[0]
            key = (host, self.path.split("?")[0])
            body = layout.routes.get(key)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", layout.types[key])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # quiet
            pass

    servers = []
    for host in layout.hosts:
        server = ThreadingHTTPServer((host, layout.port), Handler)
        server.daemon_threads = True
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.set()
    while True:
        time.sleep(3600)


class LocalSite:
    """Context manager: the site served from a child process."""

    def __init__(self, layout: SiteLayout):
        self.layout = layout
        self._proc: mp.Process | None = None

    def __enter__(self) -> SiteLayout:
        ctx = mp.get_context("fork")
        ready = ctx.Event()
        self._proc = ctx.Process(target=_serve, args=(self.layout, ready), daemon=True, name="bench-site")
        self._proc.start()
        if not ready.wait(30):
            raise RuntimeError("the local bench site did not start within 30 s")
        return self.layout

    def __exit__(self, *exc) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.join(10)
