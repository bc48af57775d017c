"""The benchmark's news site: real pages (``../shared/data/news-pages``) on several loopback hosts.

Role in the data flow: the web the throughput benchmark crawls. Each page gets a generated
path (``/a/<n>.html``; a page's original URL can be unknown) on one of several hosts
(127.0.0.11, .12, … on one port). Every host has a home page linking its section pages
(paginated article lists), an RSS feed of its newest articles and a sitemap of all of them,
so a crawler can start from any of the three. Every document is built once, up front
(:func:`build_layout`); the site is served by :mod:`demo_sites.loopback` in a child process
of its own (:class:`LocalSite`), so its CPU never counts towards the crawler being measured.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Sequence

import yaml

from dealwatch.dates import UTC
from dealwatch.processes import die_with_parent
from demo_sites.loopback import LoopbackServers, Response, free_port

SECTION_SIZE = 25
FEED_SIZE = 100
FIRST_HOST = 11            # hosts 127.0.0.11, 127.0.0.12, … (the demo sites use .2 to .9)
NOT_FOUND = Response(404, "text/plain; charset=utf-8", b"")


@dataclass(frozen=True)
class SiteLayout:
    """Every document of the site, by (host, path), and the article URLs in page order."""
    hosts: tuple[str, ...]
    port: int
    routes: dict[tuple[str, str], Response]     # (host, path) -> the answer
    article_urls: tuple[str, ...]

    def base(self, host: str) -> str:
        return f"http://{host}:{self.port}"

    def name(self, host: str) -> str:
        """The source name of one host: bench-1, bench-2, …"""
        return f"bench-{self.hosts.index(host) + 1}"

    def respond(self, host: str, path: str) -> Response:
        return self.routes.get((host, path), NOT_FOUND)

    def sources(self) -> list[dict]:
        """The sources YAML entries (one source per host) for the crawler."""
        out = []
        for host in self.hosts:
            base = self.base(host)
            out.append({
                "name": self.name(host), "language": "en", "homepage": f"{base}/",
                "sections": [f"{base}/section/1/"], "feeds": [f"{base}/feed.xml"],
                "sitemaps": [f"{base}/sitemap.xml"], "allowed_domains": [host], "article_patterns": ["^/a/"],
            })
        return out

    def write_sources(self, path: Path) -> list[str]:
        entries = self.sources()
        path.write_text(yaml.safe_dump({"sources": entries}, sort_keys=False), encoding="utf-8")
        return [e["name"] for e in entries]


def build_layout(pages: Sequence[tuple[bytes, str]], n_hosts: int = 4, port: int | None = None) -> SiteLayout:
    """The site over ``pages`` (each: the page's HTML as published, its title), spread over ``n_hosts``."""
    hosts = tuple(f"127.0.0.{FIRST_HOST + i}" for i in range(n_hosts))
    port = port or free_port(hosts[0])
    routes: dict[tuple[str, str], Response] = {}
    per_host: dict[str, list[tuple[str, str]]] = {h: [] for h in hosts}
    urls = []
    for n, (html, title) in enumerate(pages):
        host = hosts[n % n_hosts]
        path = f"/a/{n}.html"
        routes[(host, path)] = Response(200, "text/html", html)
        per_host[host].append((path, title))
        urls.append(f"http://{host}:{port}{path}")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for host, items in per_host.items():
        base = f"http://{host}:{port}"
        n_sections = max(1, -(-len(items) // SECTION_SIZE))
        home = ["<html><head><title>Bench news</title></head><body><h1>Bench news</h1><ul>"]
        home += [f'<li><a href="/section/{s}/">Section {s}</a></li>' for s in range(1, n_sections + 1)]
        home.append("</ul></body></html>")
        routes[(host, "/")] = Response(200, "text/html; charset=utf-8", "".join(home).encode())
        for s in range(1, n_sections + 1):
            chunk = items[(s - 1) * SECTION_SIZE: s * SECTION_SIZE]
            body = [f"<html><head><title>Section {s}</title></head><body><h1>Section {s}</h1><ul>"]
            body += [f'<li><a href="{p}">{escape(t)}</a></li>' for p, t in chunk]
            body.append("</ul>")
            if s < n_sections:
                body.append(f'<a rel="next" href="/section/{s + 1}/">Next page</a>')
            body.append("</body></html>")
            routes[(host, f"/section/{s}/")] = Response(200, "text/html; charset=utf-8", "".join(body).encode())
        feed = ['<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Bench news</title>'
                f"<link>{base}/</link><description>bench</description>"]
        for i, (p, t) in enumerate(items[:FEED_SIZE]):
            feed.append(f"<item><title>{escape(t)}</title><link>{base}{p}</link>"
                        f"<pubDate>{format_datetime(now - timedelta(hours=i))}</pubDate></item>")
        feed.append("</channel></rss>")
        routes[(host, "/feed.xml")] = Response(200, "application/rss+xml", "".join(feed).encode())
        sitemap = ['<?xml version="1.0" encoding="UTF-8"?>'
                   '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
        sitemap += [f"<url><loc>{base}{p}</loc></url>" for p, _ in items]
        sitemap.append("</urlset>")
        routes[(host, "/sitemap.xml")] = Response(200, "application/xml", "".join(sitemap).encode())
        robots = f"User-agent: *\nAllow: /\nSitemap: {base}/sitemap.xml\n"
        routes[(host, "/robots.txt")] = Response(200, "text/plain", robots.encode())
    return SiteLayout(hosts, port, routes, tuple(urls))


def _serve(layout: SiteLayout, ready) -> None:
    """The child process: serve every host until the parent terminates it (or dies)."""
    die_with_parent()
    LoopbackServers({h: layout.name(h) for h in layout.hosts}, layout.port, layout.respond,
                    server_version="BenchNews/1.0").start()
    ready.set()
    threading.Event().wait()


class LocalSite:
    """Context manager: the site served from a child process."""

    def __init__(self, layout: SiteLayout):
        self.layout = layout
        self._proc: mp.Process | None = None

    def __enter__(self) -> SiteLayout:
        ctx = mp.get_context("fork")
        ready = ctx.Event()
        self._proc = ctx.Process(target=_serve, args=(self.layout, ready), daemon=True, name="bench-news-site")
        self._proc.start()
        if not ready.wait(30):
            self.__exit__()
            raise RuntimeError(f"the local benchmark site did not start within 30 s (exit code {self._proc.exitcode})")
        return self.layout

    def __exit__(self, *exc) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.join(10)
