"""An export whose archive fails half-way ends as an incomplete transfer, never as a complete-looking file.

The app runs under uvicorn and reaches the real node through a TCP proxy; the proxy cuts every
connection when the export asks for its second page of hits (Elasticsearch gone in the middle of
the stream). A client must see that the body is incomplete (an HTTP library raises, curl exits
with status 18), and the app must log what happened. A request that can be refused is refused
before the first byte.
"""

from __future__ import annotations

import copy
import logging
import subprocess
import shutil
from urllib.parse import urlsplit

import httpx
import pytest
from elasticsearch import helpers

import search_archive as sa
from indexer import export, store
from live import CuttingProxy, serve
from search_ui.app import create_app

ROWS = export.PAGE_SIZE * 2 + 100          # three pages of hits: the cut comes after the first


@pytest.fixture(scope="module")
def big(es, settings):
    """An archive of ROWS articles (copies of one test article) under its own prefix."""
    s = settings.replace(index_prefix=settings.index_prefix + "abort-")
    store.drop_all(es, s)
    store.ensure_index(es, s)
    base = sa.document_for(sa.BY_KEY["fb-banks"], s)

    def docs():
        for i in range(ROWS):
            d = copy.deepcopy(base)
            d.update(id=f"abort-{i:05d}", url=f"http://abort.test/{i}", canonical_url=f"http://abort.test/{i}",
                     title=f"Copy {i} of a bank data story", published_at=f"2024-01-{1 + i % 28:02d}T10:00:00+00:00")
            yield {"_index": s.articles_alias, "_id": d["id"], "_source": d}

    helpers.bulk(es, docs(), refresh="wait_for")
    yield s
    store.drop_all(es, s)


def _through(proxy: CuttingProxy, s):
    return create_app(s.replace(es_url=proxy.url, es_max_retries=1, es_request_timeout=10))


def _node_port(s) -> int:
    return urlsplit(s.effective_es_url).port


@pytest.mark.parametrize("path", ["/export.csv", "/export.jsonl"])
def test_an_export_cut_off_mid_stream_is_an_incomplete_transfer_and_is_logged(big, path, caplog):
    proxy = CuttingProxy(_node_port(big), marker=b"POST /_search", cut_at=2)
    caplog.set_level(logging.ERROR, logger="search_ui.exports")
    with serve(_through(proxy, big)) as base:
        received = b""
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete"):
            with httpx.stream("GET", base + path, params={"relevance": "all"}, timeout=60) as r:
                assert r.status_code == 200 and r.headers["X-Total-Count"] == str(ROWS)
                for chunk in r.iter_bytes():
                    received += chunk
    assert proxy.cut.is_set()
    lines = received.decode("utf-8").splitlines()
    assert 1 < len(lines) <= export.PAGE_SIZE + 1      # rows of the first page arrived, then the transfer broke
    assert any(f"{path[1:]} of {ROWS} articles aborted after" in r.getMessage() for r in caplog.records)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_reports_the_cut_export_as_a_failed_transfer(big):
    proxy = CuttingProxy(_node_port(big), marker=b"POST /_search", cut_at=2)
    with serve(_through(proxy, big)) as base:
        run = subprocess.run(["curl", "-sS", "-o", "/dev/null", base + "/export.csv?relevance=all"],
                             capture_output=True, text=True, timeout=120)
    assert run.returncode == 18, run.stderr          # CURLE_PARTIAL_FILE: transfer closed with data outstanding
    assert "outstanding read data" in run.stderr or "transfer closed" in run.stderr


def test_the_same_export_without_a_cut_is_complete(big):
    proxy = CuttingProxy(_node_port(big), marker=b"POST /_search", cut_at=10**9)
    with serve(_through(proxy, big)) as base:
        r = httpx.get(base + "/export.csv", params={"relevance": "all"}, timeout=120)
    assert r.status_code == 200 and len(r.text.splitlines()) == ROWS + 1
    proxy.close()


def test_an_export_the_archive_cannot_start_is_refused_before_the_first_byte(big):
    proxy = CuttingProxy(_node_port(big), marker=b"POST", cut_at=1)    # nothing gets through
    with serve(_through(proxy, big)) as base:
        r = httpx.get(base + "/export.jsonl", params={"relevance": "all"}, timeout=60)
        assert r.status_code == 503 and "is not available" in r.json()["error"]["message"]
        bad = httpx.get(base + "/export.csv", params={"q": " ".join(f"w{i}" for i in range(300))}, timeout=60)
        assert bad.status_code == 400 and "the limit is 200" in bad.text
