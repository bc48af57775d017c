"""Source health, judged from the run history: failing, gone quiet, or suddenly in trouble.

:func:`assess` is a pure function of one source's recent runs (newest first) and the settings; it
names each problem with a stable event id, so the alert runner sends each onset once (the ledger
is keyed by it) and the /sources page shows the same judgement. The problems:

* ``failing`` — the last ``health_failed_runs`` runs all ``failed`` or ``timed_out``;
* ``quiet`` — the source used to yield new articles, none for ``health_stale_hours`` while it was
  still crawled;
* ``trouble`` — the last run's errors plus blocked pages plus consent walls are at least
  ``health_jump_factor`` times the median of the runs before it, and at least ``health_jump_min``.

:func:`recent_runs` reads the runs of every source at once (one aggregation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from dealwatch.dates import to_iso
from dealwatch.settings import Settings
from indexer.run_history import RunRecord

BAD = ("failed", "timed_out")
TROUBLE_KINDS = ("blocked", "consent_wall")     # counted among errors or drop reasons, wherever a run has them
BASELINE_RUNS = 10


@dataclass(frozen=True)
class Problem:
    kind: str            # failing | quiet | trouble
    event_id: str        # stable per onset: <source>:<kind>:<run id>
    message: str         # a sentence a person can act on
    since: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "event_id": self.event_id, "message": self.message, "since": to_iso(self.since)}


@dataclass
class SourceHealth:
    source: str
    problems: list[Problem] = field(default_factory=list)

    @property
    def state(self) -> str:
        return self.problems[0].kind if self.problems else "ok"

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "state": self.state, "problems": [p.as_dict() for p in self.problems]}


def trouble_count(run: RunRecord) -> int:
    """Errors, blocked pages and consent walls of one run."""
    extra = sum(run.dropped_reasons.get(k, 0) for k in TROUBLE_KINDS)
    return run.errors_total + extra


def assess(source: str, runs: list[RunRecord], now: datetime, settings: Settings) -> SourceHealth:
    """The health of a source from its runs, newest first."""
    health = SourceHealth(source)
    if not runs:
        return health
    n = settings.health_failed_runs
    if len(runs) >= n and all(r.status in BAD for r in runs[:n]):
        streak = n
        while streak < len(runs) and runs[streak].status in BAD:
            streak += 1
        first = runs[streak - 1]
        health.problems.append(Problem(
            "failing", f"{source}:failing:{first.run_id}",
            f"{source}: the last {streak} runs failed"
            + (f"; last error: {runs[0].last_error}" if runs[0].last_error else "")
            + " — check its feeds and sitemaps (dealwatch status, the run logs).", first.started_at))
    productive = [r for r in runs if r.articles.get("new", 0) > 0]
    window = timedelta(hours=settings.health_stale_hours)
    if productive:
        last_new = productive[0]
        at = last_new.ended_at or last_new.started_at
        crawled_since = [r for r in runs if r.started_at > at]
        if now - at >= window and crawled_since:
            health.problems.append(Problem(
                "quiet", f"{source}:quiet:{last_new.run_id}",
                f"{source}: no new article since {at:%Y-%m-%d %H:%M} UTC ({len(crawled_since)} runs since); "
                "it used to yield articles — its feed may have moved or its pages changed.", at))
    last, before = runs[0], runs[1:1 + BASELINE_RUNS]
    if before:
        count = trouble_count(last)
        baseline = median(trouble_count(r) for r in before)
        if count >= settings.health_jump_min and count >= settings.health_jump_factor * max(baseline, 1):
            kinds = {**last.errors, **{k: v for k, v in last.dropped_reasons.items() if k in TROUBLE_KINDS}}
            detail = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])[:5])
            health.problems.append(Problem(
                "trouble", f"{source}:trouble:{last.run_id}",
                f"{source}: {count} errors, blocked pages and consent walls in the last run ({detail}), against "
                f"a median of {baseline:g} before.", last.started_at))
    return health


def recent_runs(es: Elasticsearch, settings: Settings, per_source: int = 30,
                max_sources: int = 1000) -> dict[str, list[RunRecord]]:
    """Per source, its last ``per_source`` runs, newest first."""
    aggs = {"by_source": {"terms": {"field": "source", "size": max_sources},
                          "aggs": {"runs": {"top_hits": {"size": per_source, "sort": [{"started_at": "desc"}],
                                                         "_source": {"excludes": ["error_samples"]}}}}}}
    try:
        resp = es.search(index=settings.runs_index, size=0, aggs=aggs)
    except NotFoundError:
        return {}
    return {b["key"]: [RunRecord.from_document(h["_source"]) for h in b["runs"]["hits"]["hits"]]
            for b in resp["aggregations"]["by_source"]["buckets"]}


def health_of_all(es: Elasticsearch, settings: Settings, now: datetime) -> dict[str, SourceHealth]:
    return {source: assess(source, runs, now, settings) for source, runs in sorted(recent_runs(es, settings).items())}
