"""Pages indexed from the WARC after an interrupted run read exactly as in a clean crawl.

A page that stayed in the WARC without reaching the index (here: the index refuses writes for
the first run) is read back and indexed by the next run. The page must decode the way Scrapy
decoded it when it was fetched, also when its HTTP charset is not the codec Scrapy used:
``gb2312`` declared for GB18030 text (Scrapy decodes with the superset, gb18030) and
``iso-8859-1`` declared for Windows-1252 text (Scrapy, like browsers, uses cp1252).

Specification: the documents indexed from the WARC have the same ids and content hashes as
the documents of a clean crawl of the same pages, and no page is fetched again.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from crawler.sources import load_sources
from crawler.supervisor import supervise_crawl
from indexer.client import make_client
from jobs_helpers import indexed_hashes, isolated_settings

SOURCE = "charsets"
_WORDS_ZH = "镕基金会发布了关于银行和平台的报告，内容涉及客户数据、交易记录以及监管机构的回应。"  # 镕: in GBK/GB18030, not in GB2312
_WORDS_LATIN = "The bank\u2019s \u201cdata-sharing\u201d deal \u2013 worth \u20ac4 million \u2013 was questioned by regulators. "

PAGES = {
    "/news/zh-report.html": ("text/html; charset=gb2312", "gb18030", "zh", "银行报告", _WORDS_ZH * 12),
    "/news/latin-deal.html": ("text/html; charset=iso-8859-1", "cp1252", "en", "The bank deal", _WORDS_LATIN * 8),
}


def _page(title: str, text: str, lang: str) -> str:
    paras = "".join(f"<p>{text[i:i + 120]}</p>" for i in range(0, len(text), 120))
    return (f"<!DOCTYPE html><html lang=\"{lang}\"><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"{paras}</article></body></html>")


class _Handler(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 - the http.server API
        type(self).requests.append(self.path)
        host = f"http://{self.headers['Host']}"
        if self.path == "/robots.txt":
            return self._send(200, "text/plain", b"User-agent: *\nAllow: /\n")
        if self.path == "/feed.xml":
            items = "".join(f"<item><title>{p}</title><link>{host}{p}</link></item>" for p in PAGES)
            return self._send(200, "application/rss+xml; charset=utf-8",
                              f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
                              f"{items}</channel></rss>".encode())
        if self.path in PAGES:
            ctype, codec, lang, title, text = PAGES[self.path]
            return self._send(200, ctype, _page(title, text, lang).encode(codec))
        self._send(404, "text/plain", b"")

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def charset_site(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({"sources": [{
        "name": SOURCE, "language": "en", "feeds": [base + "/feed.xml"],
        "allowed_domains": ["127.0.0.1"], "time_limit": "2m"}]}), encoding="utf-8")
    _Handler.requests = []
    yield path
    server.shutdown()


def _block_writes(s, blocked: bool) -> None:
    make_client(s).indices.put_settings(index=s.articles_alias, settings={"index.blocks.write": blocked})


def test_pages_indexed_from_the_warc_keep_the_charset_scrapy_decoded_them_with(settings, tmp_path, charset_site):
    [source] = load_sources(charset_site)
    clean = isolated_settings(settings, tmp_path, "cs-clean", extract_workers=1)
    replay = isolated_settings(settings, tmp_path, "cs-replay", extract_workers=1)
    run = supervise_crawl(source, clean, sources_file=charset_site)
    assert run.status == "ok", run.last_error
    reference = indexed_hashes(make_client(clean), clean, SOURCE)
    assert len(reference) == len(PAGES)

    _block_writes(replay, True)   # the first run archives the pages but cannot index them
    try:
        first = supervise_crawl(source, replay, sources_file=charset_site)
    finally:
        _block_writes(replay, False)
    assert first.errors.get("index") == len(PAGES), first
    assert indexed_hashes(make_client(replay), replay, SOURCE) == {}

    _Handler.requests = []
    second = supervise_crawl(source, replay, sources_file=charset_site)
    assert second.status == "ok", second.last_error
    assert [p for p in _Handler.requests if p in PAGES] == [], "a page archived by the first run was fetched again"
    assert indexed_hashes(make_client(replay), replay, SOURCE) == reference
