"""Section 4: CSV export through the app's endpoint: rows/s, time to first byte, peak RSS.

``GET /export.csv`` streams every match from a point in time with ``search_after``
(:mod:`indexer.export`). The benchmark reads it with a streaming HTTP client, notes when
the first bytes arrive and when the last do, counts the CSV rows, and samples the resident
memory of the app process (uvicorn and its children) every 20 ms. Each export runs in a
fresh app process, so a peak is that export's own; 10,000 and 100,000 rows show whether
memory depends on the number of rows, with the default columns and with the full text
(``fields=title,text,evidence``).
"""

from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
from elasticsearch import Elasticsearch

from bench.app_server import AppServer
from bench.measure import PeakRSS
from dealwatch.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class ExportRun:
    rows_wanted: int
    params: list[tuple[str, str]]
    rows: int
    bytes: int
    ttfb: float
    seconds: float
    peak_rss: int
    idle_rss: int

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def params_for(es: Elasticsearch, settings: Settings, rows: int) -> list[tuple[str, str]]:
    """Export parameters matching about ``rows`` documents: all of them, or the newest since a date."""
    total = es.count(index=settings.articles_alias)["count"]
    if rows >= total:
        return [("relevant", "0")]
    lo, hi = date(2015, 1, 1), date(2026, 12, 31)
    while (hi - lo).days > 1:  # newest documents first: find the day from which ~rows are newer
        mid = lo + (hi - lo) / 2
        n = es.count(index=settings.articles_alias,
                     query={"range": {"published_at": {"gte": mid.isoformat()}}})["count"]
        lo, hi = (mid, hi) if n > rows else (lo, mid)
    return [("relevant", "0"), ("from", hi.isoformat())]


def run_export(settings: Settings, params: list[tuple[str, str]], rows_wanted: int) -> ExportRun:
    with AppServer(settings.index_prefix) as app:
        idle = PeakRSS(app.proc.pid)._rss()
        with PeakRSS(app.proc.pid) as rss, httpx.Client(base_url=app.base_url, timeout=600) as client:
            buf = io.BytesIO()
            start = time.perf_counter()
            ttfb = None
            with client.stream("GET", "/export.csv", params=params) as resp:
                if resp.status_code != 200:
                    raise RuntimeError(f"/export.csv -> {resp.status_code}: {resp.read()[:300]!r}")
                for chunk in resp.iter_bytes():
                    if ttfb is None and chunk:
                        ttfb = time.perf_counter() - start
                    buf.write(chunk)
            seconds = time.perf_counter() - start
        text = buf.getvalue().decode("utf-8-sig")
        rows = sum(1 for _ in csv.reader(io.StringIO(text))) - 1  # minus the header
    run = ExportRun(rows_wanted, params, rows, len(text.encode()), ttfb or seconds, seconds, rss.peak, idle)
    log.info("export %d rows: %.0f rows/s, ttfb %.3f s, peak RSS %.0f MB", rows, run.rows_per_s, run.ttfb,
             run.peak_rss / 2**20)
    return run


def measure(es: Elasticsearch, settings: Settings, sizes: tuple[int, ...] = (10_000, 100_000),
            fields: str = "") -> list[ExportRun]:
    """One export per size; ``fields`` (e.g. ``title,text,evidence``) exports those columns instead of the
    default ones (the full text makes every row several times longer: memory must stay flat all the same)."""
    extra = [("fields", fields)] if fields else []
    return [run_export(settings, params_for(es, settings, n) + extra, n) for n in sizes]
