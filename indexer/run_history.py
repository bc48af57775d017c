"""Run history: the ``<prefix>crawl-runs`` index (one document per crawl of one source).

Everything Elasticsearch-specific about run history lives here, reached through the archive
(:meth:`indexer.archive.Archive.record_run`, ``last_runs``, ``source_summaries``). The crawl
supervisor builds a :class:`RunRecord` from the crawl process's stats file; ``dealwatch status``
and the UI's sources page read the summaries.

Counters keyed by an open set of names (drop reasons, error kinds such as ``http_403``) are
stored as lists of ``{"name": ..., "count": ...}`` pairs so the mapping stays strict; the
Python side always sees them as plain ``dict[str, int]``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from dealwatch.dates import parse_datetime, to_iso
from dealwatch.settings import Settings
from indexer.schema import shard_settings

log = logging.getLogger(__name__)

STATUSES = ("ok", "partial", "failed", "timed_out")

_COUNT_PAIRS = {"properties": {"name": {"type": "keyword"}, "count": {"type": "long"}}}

RUNS_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "run_id": {"type": "keyword"},
        "source": {"type": "keyword"},
        "trigger": {"type": "keyword"},          # manual | schedule
        "started_at": {"type": "date"},
        "ended_at": {"type": "date"},
        "duration_s": {"type": "float"},
        "status": {"type": "keyword"},           # ok | partial | failed | timed_out
        "exit_code": {"type": "integer"},
        "finish_reason": {"type": "keyword"},
        "pages_fetched": {"type": "long"},
        "requests": {"type": "long"},
        "articles": {"properties": {k: {"type": "long"} for k in ("new", "updated", "unchanged", "dropped")}},
        "dropped_reasons": _COUNT_PAIRS,
        "errors": _COUNT_PAIRS,
        "errors_total": {"type": "long"},
        "error_samples": {"type": "object", "enabled": False},   # [{url, kind, message}], kept, not indexed
        "last_error": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 512}}},
        "next_run_at": {"type": "date"},
        "log_file": {"type": "keyword", "index": False},
    },
}


def _pairs(counts: dict[str, int]) -> list[dict[str, Any]]:
    return [{"name": k, "count": int(v)} for k, v in sorted(counts.items()) if v]


def _unpair(pairs: Any) -> dict[str, int]:
    if isinstance(pairs, dict):
        return {k: int(v) for k, v in pairs.items()}
    return {p["name"]: int(p["count"]) for p in pairs or []}


@dataclass
class RunRecord:
    """One crawl of one source: what happened, counted."""

    run_id: str
    source: str
    started_at: datetime
    ended_at: datetime | None = None
    status: str = "ok"
    trigger: str = "manual"
    exit_code: int | None = None
    finish_reason: str = ""
    pages_fetched: int = 0
    requests: int = 0
    articles: dict[str, int] = field(default_factory=lambda: {"new": 0, "updated": 0, "unchanged": 0, "dropped": 0})
    dropped_reasons: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[dict[str, Any]] = field(default_factory=list)
    last_error: str = ""
    next_run_at: datetime | None = None
    log_file: str = ""

    @property
    def errors_total(self) -> int:
        return sum(self.errors.values())

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return round((self.ended_at - self.started_at).total_seconds(), 3)

    @property
    def doc_id(self) -> str:
        return f"{self.run_id}:{self.source}"

    def to_document(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.update(
            started_at=to_iso(self.started_at), ended_at=to_iso(self.ended_at), next_run_at=to_iso(self.next_run_at),
            dropped_reasons=_pairs(self.dropped_reasons), errors=_pairs(self.errors),
            errors_total=self.errors_total, duration_s=self.duration_s,
            error_samples=list(self.error_samples)[:20],
        )
        if not self.last_error:
            doc.pop("last_error")
        return {k: v for k, v in doc.items() if v is not None}

    def as_summary(self) -> dict[str, Any]:
        """The fields a page or API shows of a run, as JSON-ready values."""
        keys = ("run_id", "status", "trigger", "started_at", "ended_at", "duration_s", "pages_fetched", "articles",
                "dropped_reasons", "errors", "errors_total", "last_error", "next_run_at")
        out = {}
        for k in keys:
            v = getattr(self, k)
            out[k] = to_iso(v) if isinstance(v, datetime) else v
        return out

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> "RunRecord":
        return cls(
            run_id=doc["run_id"], source=doc["source"], started_at=parse_datetime(doc["started_at"]),
            ended_at=parse_datetime(doc.get("ended_at")), status=doc.get("status", ""),
            trigger=doc.get("trigger", ""), exit_code=doc.get("exit_code"),
            finish_reason=doc.get("finish_reason", ""), pages_fetched=int(doc.get("pages_fetched") or 0),
            requests=int(doc.get("requests") or 0),
            articles={k: int(v) for k, v in (doc.get("articles") or {}).items()},
            dropped_reasons=_unpair(doc.get("dropped_reasons")), errors=_unpair(doc.get("errors")),
            error_samples=list(doc.get("error_samples") or []), last_error=doc.get("last_error", ""),
            next_run_at=parse_datetime(doc.get("next_run_at")), log_file=doc.get("log_file", ""),
        )


@dataclass
class SourceSummary:
    """Per source: the last run, totals over every recorded run, the last error."""

    source: str
    runs: int = 0
    last_run: RunRecord | None = None
    runs_by_status: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)   # pages_fetched, new, updated, unchanged, dropped, errors
    last_error: str = ""
    last_error_at: datetime | None = None
    next_run_at: datetime | None = None


def ensure_runs_index(es: Elasticsearch, settings: Settings) -> None:
    """Create the run-history index with its strict mapping (no-op when it exists)."""
    if es.indices.exists(index=settings.runs_index):
        return
    es.options(ignore_status=400).indices.create(
        index=settings.runs_index, settings=shard_settings(settings),
        mappings=RUNS_MAPPING)
    log.info("created run-history index %s", settings.runs_index)


def record_run(es: Elasticsearch, settings: Settings, record: RunRecord, refresh: bool = True) -> None:
    """Write (or overwrite) one run's document; visible to searches right away by default."""
    ensure_runs_index(es, settings)
    es.index(index=settings.runs_index, id=record.doc_id, document=record.to_document(),
             refresh="wait_for" if refresh else False)


def last_runs(es: Elasticsearch, settings: Settings, source: str | None = None, n: int = 10) -> list[RunRecord]:
    """The most recent runs, newest first (of one source, or of all)."""
    query = {"term": {"source": source}} if source else {"match_all": {}}
    try:
        resp = es.search(index=settings.runs_index, query=query, sort=[{"started_at": "desc"}], size=n)
    except NotFoundError:
        return []
    return [RunRecord.from_document(h["_source"]) for h in resp["hits"]["hits"]]


_SUMS = {"pages_fetched": "pages_fetched", "new": "articles.new", "updated": "articles.updated",
         "unchanged": "articles.unchanged", "dropped": "articles.dropped", "errors": "errors_total"}


def source_summaries(es: Elasticsearch, settings: Settings, max_sources: int = 1000) -> dict[str, SourceSummary]:
    """Per source that has run at least once: last run, totals, runs by status, last error."""
    aggs = {
        "by_source": {
            "terms": {"field": "source", "size": max_sources, "order": {"_key": "asc"}},
            "aggs": {
                "last": {"top_hits": {"size": 1, "sort": [{"started_at": "desc"}]}},
                "by_status": {"terms": {"field": "status", "size": 10}},
                **{name: {"sum": {"field": path}} for name, path in _SUMS.items()},
                "with_error": {
                    "filter": {"exists": {"field": "last_error"}},
                    "aggs": {"last": {"top_hits": {"size": 1, "sort": [{"started_at": "desc"}],
                                                   "_source": ["last_error", "started_at", "ended_at"]}}},
                },
            },
        }
    }
    try:
        resp = es.search(index=settings.runs_index, size=0, aggs=aggs)
    except NotFoundError:
        return {}
    out: dict[str, SourceSummary] = {}
    for bucket in resp["aggregations"]["by_source"]["buckets"]:
        last_doc = bucket["last"]["hits"]["hits"][0]["_source"]
        last = RunRecord.from_document(last_doc)
        summary = SourceSummary(
            source=bucket["key"], runs=bucket["doc_count"], last_run=last,
            runs_by_status={b["key"]: b["doc_count"] for b in bucket["by_status"]["buckets"]},
            totals={name: int(bucket[name]["value"] or 0) for name in _SUMS},
            next_run_at=last.next_run_at,
        )
        err_hits = bucket["with_error"]["last"]["hits"]["hits"]
        if err_hits:
            src = err_hits[0]["_source"]
            summary.last_error = src.get("last_error", "")
            summary.last_error_at = parse_datetime(src.get("ended_at") or src.get("started_at"))
        out[summary.source] = summary
    return out
