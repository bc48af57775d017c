"""A source's manners on the wire: its User-Agent, headers and cookies, a challenge page, a 503 with an HTTP date.

Three small sites on loopback, crawled by one real crawl process:

* 127.0.0.30 records the headers of every request; its robots.txt disallows ``/private/`` only for
  the source's own User-Agent, so obeying it proves the crawler matched robots.txt against that agent;
* 127.0.0.31 answers every page with a Cloudflare-style challenge page ("Just a moment..."): one is
  enough to block the domain for the run;
* 127.0.0.32 answers its article's first request with 503 and ``Retry-After`` as an HTTP date two
  seconds ahead; the page arrives after the wait.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from crawler.supervisor import settings_environment
from indexer import store
from indexer.client import make_client
from jobs_helpers import isolated_settings

MANNERS, CHALLENGE, UNAVAILABLE = "127.0.0.30", "127.0.0.31", "127.0.0.32"
AGENT = "NewsReaderX/2.1 (+https://example.org/newsreader)"
TEXT = " ".join(["The committee asked the bank how card data reached the platform and who approved it."] * 8)
ARTICLES = ["/2026/02/committee-asks-bank-about-card-data/", "/2026/02/platform-answers-the-committee/"]


def _page(title: str) -> bytes:
    return (f"<html lang='en'><head><title>{title}</title></head><body><article><h1>{title}</h1><p>{TEXT}</p>"
            f"<p>{TEXT}</p></article></body></html>").encode()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        host = self.server.server_address[0]
        self.server.log.append((host, self.path, time.time(), dict(self.headers.items())))
        status, ctype, body, extra = 200, "text/html", b"", {}
        if self.path == "/robots.txt":
            ctype = "text/plain"
            body = b"User-agent: NewsReaderX\nDisallow: /private/\n\nUser-agent: *\nDisallow:\n"
        elif host == CHALLENGE:
            status = 403
            body = (b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
                    b"<noscript>Enable JavaScript and cookies to continue</noscript></body></html>")
        elif self.path == "/":
            links = "".join(f'<a href="{p}">story</a>' for p in [*ARTICLES, "/private/2026/02/board-notes-on-data/"])
            body = f"<html><body><h1>Front page</h1>{links}</body></html>".encode()
        elif host == UNAVAILABLE and self.path == ARTICLES[0] and not self.server.unavailable_once:
            self.server.unavailable_once = True
            status, body = 503, b"<html><body>Maintenance</body></html>"
            extra = {"Retry-After": formatdate(time.time() + 2, usegmt=True)}
        elif self.path in ARTICLES or self.path.startswith("/private/"):
            body = _page(self.path)
        else:
            status, body = 404, b"<html><body>no</body></html>"
        self.send_response(status)
        self.send_header("Content-Type", f"{ctype}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture()
def sites():
    log: list = []
    for _ in range(20):
        port = random.randint(20000, 45000)
        try:
            servers = [ThreadingHTTPServer((h, port), _Handler) for h in (MANNERS, CHALLENGE, UNAVAILABLE)]
            break
        except OSError:
            continue
    else:
        pytest.fail("no free port")
    for server in servers:
        server.log, server.unavailable_once = log, False
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield port, log
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_sources_manners_reach_the_wire_and_the_web_is_met_politely(settings, sites, tmp_path: Path):
    port, log = sites
    s = isolated_settings(settings, tmp_path, "manners", extract_workers=1, autothrottle_start_delay=0.05)
    sources = [
        {"name": "manners", "language": "en", "homepage": f"http://{MANNERS}:{port}/", "user_agent": AGENT,
         "headers": {"Accept-Language": "pl-PL,pl;q=0.9"}, "cookies": {"euconsent": "accepted", "rodo": "1"},
         "article_patterns": ["^/(private/)?2026/"]},
        {"name": "challenged", "language": "en", "homepage": f"http://{CHALLENGE}:{port}/",
         "article_patterns": ["^/2026/"]},
        {"name": "unavailable", "language": "en", "homepage": f"http://{UNAVAILABLE}:{port}/",
         "article_patterns": ["^/2026/"]},
    ]
    sources_file = tmp_path / "sources.yaml"
    sources_file.write_text(yaml.safe_dump({"sources": sources}), encoding="utf-8")
    stats_file = tmp_path / "stats.json"
    try:
        proc = subprocess.run([sys.executable, "-m", "crawler.crawl_process", "--sources",
                               "manners,challenged,unavailable", "--sources-file", str(sources_file),
                               "--stats-file", str(stats_file)],
                              env=settings_environment(s), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        stats = json.loads(stats_file.read_text())["sources"]

        mine = [(path, headers) for host, path, _, headers in log if host == MANNERS]
        assert {p for p, _ in mine} == {"/robots.txt", "/", *ARTICLES}      # /private/ refused for this agent
        for path, headers in mine:
            assert headers["User-Agent"] == AGENT and headers["Accept-Language"] == "pl-PL,pl;q=0.9", path
            assert headers["Cookie"] == "euconsent=accepted; rodo=1", path
        assert stats["manners"]["errors"] == {"robots": 1} and stats["manners"]["articles"]["new"] == 2
        others = [headers for host, _, _, headers in log if host != MANNERS]
        assert others and all("Cookie" not in h and h["User-Agent"].startswith("DealWatchBot/") for h in others)

        # one challenge page (the home page's) blocks the domain at once, not after blocked_after_denials
        assert [p for h, p, _, _ in log if h == CHALLENGE] == ["/robots.txt", "/"]
        assert stats["challenged"]["errors"] == {"blocked": 1}
        assert "Cloudflare" in stats["challenged"]["error_samples"][0]["message"]

        # 503 with an HTTP date: waited for, then the page arrives
        first = [t for h, p, t, _ in log if h == UNAVAILABLE and p == ARTICLES[0]]
        assert len(first) == 2 and first[1] - first[0] >= 1.0, first
        assert stats["unavailable"]["articles"]["new"] == 2 and stats["unavailable"]["throttled"]["503"] == 1
        assert stats["unavailable"]["errors"] == {}
    finally:
        store.drop_all(make_client(s), s)
