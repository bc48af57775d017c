"""Section 3: search latency at archive scale, raw Elasticsearch vs the JSON API.

The UI's real queries run against generated archives (:mod:`bench.archive`) of 100,000
and 1,000,000 documents. "Raw Elasticsearch" times the requests the API makes for one call,
with the bodies of the one query builder (:mod:`indexer.query`), sent with the Python client:
the near-duplicate check (count), the results page (hits, highlight, facets) and, for the
histogram query, the two histogram searches. "API" times ``GET /api/search`` over HTTP
against the app served by uvicorn. Both are timed alternately, request by request, so the
machine's noise hits them alike; the difference is the app's overhead.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from elasticsearch import Elasticsearch

from bench.app_server import AppServer
from bench.measure import percentile
from dealwatch.settings import Settings
from indexer.archive import Archive
from indexer.query import SearchParams

log = logging.getLogger(__name__)

EN_WORDS = ["bank data", "customer data", "facebook bank", "card payments", "privacy regulators"]
PHRASES = ['"customer data"', '"credit card"', '"central bank"', '"social media"', '"interest rates"']
PL_WORDS = ["banków dane", "Facebooka", "dane klientów", "płatności kartą", "ochrona danych osobowych"]


def query_plan(entity_ids: list[str]) -> dict[str, list[list[tuple[str, str]]]]:
    """Query type -> parameter lists (variants cycled so caches do not answer everything)."""
    ents = entity_ids or ["meta-platforms"]
    return {
        "full text + 3 filters + facets + highlight + histogram": [
            [("q", w), ("lang", "en"), ("type", t), ("from", "2018-01-01"), ("relevant", "0"), ("histogram", "1")]
            for w, t in zip(EN_WORDS, ["bank", "platform", "bank", "card_network", "regulator"])],
        "entity filter (newest first)": [[("entity", e), ("relevant", "0")] for e in ents[:5]],
        "phrase": [[("q", p), ("relevant", "0")] for p in PHRASES],
        "Polish lemma query": [[("q", w), ("lang", "pl"), ("relevant", "0")] for w in PL_WORDS],
    }


class TimedTransport:
    """Adds up the time the client spends in Elasticsearch round trips (request sent ->
    response read), by wrapping the client's transport; everything else is Python."""

    def __init__(self, es: Elasticsearch):
        self.es = es
        self.seconds = 0.0
        self.requests = 0
        transport = es._transport
        inner = transport.perform_request

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.requests += 1

        transport.perform_request = timed


def raw_call(es: Elasticsearch, settings: Settings, params: list[tuple[str, str]],
             timer: TimedTransport) -> tuple[float, float]:
    """One API call's work done in-process with the library the app uses (``Archive.search``,
    ``as_dict``, ``Archive.histogram``). Returns (ms in Elasticsearch round trips, ms in all)."""
    archive = Archive(settings, client=es)
    search = SearchParams.from_url([(k, v) for k, v in params if k != "histogram"]).checked(settings.ui_max_page_size)
    timer.seconds = 0.0
    start = time.perf_counter()
    archive.search(search).as_dict()
    if ("histogram", "1") in params:
        archive.histogram(search)
    return timer.seconds * 1000, (time.perf_counter() - start) * 1000


def api_call(client: httpx.Client, params: list[tuple[str, str]]) -> float:
    start = time.perf_counter()
    resp = client.get("/api/search", params=params)
    ms = (time.perf_counter() - start) * 1000
    if resp.status_code != 200:
        raise RuntimeError(f"/api/search {params} -> {resp.status_code}: {resp.text[:300]}")
    return ms


@dataclass
class Latency:
    archive: str
    docs: int
    query: str
    raw_ms: list[float] = field(default_factory=list)
    lib_ms: list[float] = field(default_factory=list)
    api_ms: list[float] = field(default_factory=list)
    total_hits: int = 0

    def p(self, which: str, pct: float) -> float:
        return percentile({"raw": self.raw_ms, "lib": self.lib_ms, "api": self.api_ms}[which], pct)

    @property
    def overhead_p50(self) -> float:
        """Median of the per-request differences would mix pairs; use the p50s' difference."""
        return self.p("api", 50) - self.p("raw", 50)

    @property
    def overhead_p95(self) -> float:
        return self.p("api", 95) - self.p("raw", 95)


def top_entities(es: Elasticsearch, settings: Settings, n: int = 5) -> list[str]:
    resp = es.search(index=settings.articles_alias, size=0,
                     aggs={"e": {"terms": {"field": "entity_ids", "size": n}}})
    return [b["key"] for b in resp["aggregations"]["e"]["buckets"]]


def measure(es: Elasticsearch, settings: Settings, label: str, docs: int, rounds: int = 8) -> list[Latency]:
    """``rounds`` passes over every variant of every query type, raw and API alternating."""
    plan = query_plan(top_entities(es, settings))
    out: list[Latency] = []
    timer = TimedTransport(es)

    def raw(lat: Latency, params) -> None:
        es_ms, all_ms = raw_call(es, settings, params, timer)
        lat.raw_ms.append(es_ms)
        lat.lib_ms.append(all_ms)

    with AppServer(settings.index_prefix) as app, httpx.Client(base_url=app.base_url, timeout=120) as client:
        for name, variants in plan.items():
            lat = Latency(label, docs, name)
            for params in variants:  # warm-up: first use of each variant is not counted
                raw_call(es, settings, params, timer)
                body = client.get("/api/search", params=params).json()
                lat.total_hits = max(lat.total_hits, int(body.get("total", 0)))
            for r in range(rounds):
                for params in variants:
                    if r % 2:
                        lat.api_ms.append(api_call(client, params))
                        raw(lat, params)
                    else:
                        raw(lat, params)
                        lat.api_ms.append(api_call(client, params))
            log.info("%s %s: raw p95 %.0f ms, api p95 %.0f ms", label, name, lat.p("raw", 95), lat.p("api", 95))
            out.append(lat)
    return out


def example_url(params: list[tuple[str, str]]) -> str:
    return "/api/search?" + str(httpx.QueryParams(params))


def plan_examples() -> dict[str, str]:
    return {name: example_url(v[0]) for name, v in query_plan(["<entity-id>"]).items()}


def as_rows(lats: list[Latency]) -> list[dict[str, Any]]:
    return [{"archive": l.archive, "query": l.query, "n": len(l.api_ms), "hits": l.total_hits,
             "raw_p50": l.p("raw", 50), "raw_p95": l.p("raw", 95), "raw_p99": l.p("raw", 99),
             "lib_p50": l.p("lib", 50), "lib_p95": l.p("lib", 95),
             "api_p50": l.p("api", 50), "api_p95": l.p("api", 95), "api_p99": l.p("api", 99),
             "overhead_p50": l.overhead_p50} for l in lats]


# --- concurrent clients ------------------------------------------------------------------------

CLIENT_LEVELS = (1, 16, 64)


@dataclass
class LoadLevel:
    """Closed-loop clients against ``GET /api/search``: each sends its next request when the
    last one answered, every query type mixed. ``errors``: non-200 answers and transport errors."""
    archive: str
    clients: int
    ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0

    def p(self, pct: float) -> float:
        return percentile(self.ms, pct)

    @property
    def throughput(self) -> float:
        return len(self.ms) / self.wall_s if self.wall_s else 0.0


def concurrent_load(base_url: str, entity_ids: list[str], label: str, clients: int,
                    requests_per_client: int) -> LoadLevel:
    """``clients`` threads, each with its own HTTP connection, ``requests_per_client`` requests each
    (the variants of every query type, shifted per client so they do not move in step)."""
    import threading
    from itertools import chain

    variants = list(chain.from_iterable(query_plan(entity_ids).values()))
    level = LoadLevel(label, clients)
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)

    def client(k: int) -> None:
        with httpx.Client(base_url=base_url, timeout=60) as http:
            start_gate.wait()
            for i in range(requests_per_client):
                params = variants[(k * 7 + i) % len(variants)]
                t0 = time.perf_counter()
                try:
                    resp = http.get("/api/search", params=params)
                    error = None if resp.status_code == 200 else f"HTTP {resp.status_code}"
                except httpx.HTTPError as exc:
                    error = type(exc).__name__
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    if error:
                        level.errors[error] = level.errors.get(error, 0) + 1
                    else:
                        level.ms.append(ms)

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    start_gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    level.wall_s = time.perf_counter() - t0
    log.info("%s, %d clients: p50 %.0f ms, p95 %.0f ms, p99 %.0f ms, %.1f requests/s, errors %s", label, clients,
             level.p(50), level.p(95), level.p(99), level.throughput, level.errors or 0)
    return level


def measure_concurrency(es: Elasticsearch, settings: Settings, label: str, smoke: bool = False,
                        levels: tuple[int, ...] = CLIENT_LEVELS) -> list[LoadLevel]:
    """Every level against one app process (as the UI is served), after one warm-up pass."""
    entity_ids = top_entities(es, settings)
    total = 40 if smoke else 320              # requests per level, shared among its clients
    out = []
    with AppServer(settings.index_prefix) as app:
        concurrent_load(app.base_url, entity_ids, label, 1, len(query_plan(entity_ids)) * 5)   # warm-up
        for clients in levels:
            out.append(concurrent_load(app.base_url, entity_ids, label, clients, max(2, total // clients)))
    return out
