"""Politeness toward a site: robots.txt's Crawl-delay holds the crawler to its pace.

Two small sites on loopback, crawled by one real crawl process: 127.0.0.10 asks for
``Crawl-delay: 1`` in its robots.txt, 127.0.0.11 asks for nothing. The server notes when each
request arrives.

Specification:
* after its robots.txt, the requests to the site that asks for a Crawl-delay of 1 s are at least
  half a second apart (the download delay varies by ±50 % around the delay);
* the other site, crawled in the same process, is not slowed down (so the pace above comes
  from its robots.txt, not from the crawler's defaults).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from crawler.supervisor import settings_environment
from indexer import store
from indexer.client import make_client
from jobs_helpers import isolated_settings

SLOW, FAST = "127.0.0.10", "127.0.0.11"
ARTICLES = [f"/2026/01/story-number-{n}-of-the-day/" for n in range(1, 6)]
TEXT = " ".join(["The council met on Tuesday and agreed the budget for the coming year."] * 8)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        host = self.server.server_address[0]
        self.server.log.append((host, self.path, time.monotonic()))
        if self.path == "/robots.txt":
            body = "User-agent: *\nDisallow:\n" + ("Crawl-delay: 1\n" if host == SLOW else "")
            ctype = "text/plain"
        elif self.path == "/":
            links = "".join(f'<li><a href="{p}">Story {i}</a></li>' for i, p in enumerate(ARTICLES, 1))
            body = f"<html><body><h1>Front page</h1><ul>{links}</ul></body></html>"
            ctype = "text/html"
        elif self.path in ARTICLES:
            body = (f"<html lang='en'><head><title>Story {self.path}</title></head><body><article>"
                    f"<h1>Story {self.path}</h1><p>{TEXT}</p><p>{TEXT}</p></article></body></html>")
            ctype = "text/html"
        else:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", f"{ctype}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture()
def sites():
    log: list[tuple[str, str, float]] = []
    for _ in range(20):
        port = random.randint(20000, 45000)
        try:
            servers = [ThreadingHTTPServer((host, port), _Handler) for host in (SLOW, FAST)]
            break
        except OSError:
            continue
    else:
        pytest.fail(f"no free port on {SLOW} and {FAST}")
    threads = []
    for server in servers:
        server.log = log
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        threads.append(thread)
    yield port, log
    for server in servers:
        server.shutdown()
        server.server_close()


def _gaps(log, host: str) -> list[float]:
    times = [t for h, path, t in log if h == host and path != "/robots.txt"]
    return [b - a for a, b in zip(times, times[1:])]


def test_a_sites_crawl_delay_paces_its_requests_and_only_its_own(settings, sites, tmp_path: Path):
    port, log = sites
    s = isolated_settings(settings, tmp_path, "polite", extract_workers=1, autothrottle_start_delay=0.05,
                          download_delay=0.0)
    sources = [{"name": name, "language": "en", "homepage": f"http://{host}:{port}/",
                "article_patterns": ["^/2026/"]} for name, host in (("slow-site", SLOW), ("fast-site", FAST))]
    sources_file = tmp_path / "sources.yaml"
    sources_file.write_text(yaml.safe_dump({"sources": sources}), encoding="utf-8")
    stats_file = tmp_path / "stats.json"
    try:
        proc = subprocess.run([sys.executable, "-m", "crawler.crawl_process", "--sources", "slow-site,fast-site",
                               "--sources-file", str(sources_file), "--stats-file", str(stats_file)],
                              env=settings_environment(s), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        stats = json.loads(stats_file.read_text())
        for name in ("slow-site", "fast-site"):
            assert stats["sources"][name]["finish_reason"] == "finished", stats["sources"][name]
            assert stats["sources"][name]["pages_fetched"] == 2 + len(ARTICLES)    # robots.txt, home, articles

        for host in (SLOW, FAST):   # the home page and every article (a retried request shows twice)
            assert {p for h, p, _ in log if h == host} == {"/robots.txt", "/", *ARTICLES}, log
        slow, fast = _gaps(log, SLOW), _gaps(log, FAST)
        assert min(slow) >= 0.45, f"requests to the Crawl-delay site came {min(slow):.2f} s apart"
        assert min(fast) < 0.45, f"the site without Crawl-delay was slowed down too: {fast}"
    finally:
        store.drop_all(make_client(s), s)
