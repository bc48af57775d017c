"""The run report: a run's id, the counters a crawl keeps, and the stats file the supervisor reads.

One :class:`SourceReport` per source is filled by the spider (requests, errors), the item
pipelines (articles new/updated/unchanged/dropped) and read by :class:`StatsFile`, which
rewrites the stats JSON atomically (tmp + rename) about every second, and by
:func:`format_report`, the summary printed at the end of a run.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ERROR_KINDS = ("dns", "connection", "timeout", "http_404", "http_500", "robots", "redirect_loop", "feed",
               "parse")
DROP_REASONS = ("no_text", "too_large", "not_html")
MAX_SAMPLES = 20


def new_run_id() -> str:
    """The id of one run: its UTC start time and a random tail (``20261129T101500Z-3f9a1c``)."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class SourceReport:
    name: str
    pages_fetched: int = 0
    requests: int = 0
    skipped_known: int = 0          # article URLs not fetched: already archived and not due
    recovered: int = 0              # pages re-read from the WARC after an interrupted run
    fetch_reasons: Counter = field(default_factory=Counter)   # why article pages were requested: new, lastmod, revisit
    articles: Counter = field(default_factory=Counter)        # new, updated, unchanged, dropped, failed
    dropped_reasons: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    error_samples: list[dict[str, str]] = field(default_factory=list)
    first_sample: dict[str, str] = field(default_factory=dict)  # kind -> sample URL
    finish_reason: str | None = None

    def _sample(self, url: str, kind: str, message: str) -> None:
        self.first_sample.setdefault(kind, url)
        if len(self.error_samples) < MAX_SAMPLES:
            self.error_samples.append({"url": url, "kind": kind, "message": message[:300]})

    def error(self, kind: str, url: str, message: str = "") -> None:
        self.errors[kind] += 1
        self._sample(url, kind, message)

    def dropped(self, reason: str, url: str, message: str = "") -> None:
        self.articles["dropped"] += 1
        self.dropped_reasons[reason] += 1
        self._sample(url, reason, message)

    def to_dict(self) -> dict[str, Any]:
        nz = lambda c: {k: v for k, v in c.items() if v}  # noqa: E731
        return {
            "pages_fetched": self.pages_fetched,
            "requests": self.requests,
            "skipped_known": self.skipped_known,
            "recovered": self.recovered,
            "fetch_reasons": nz(self.fetch_reasons),
            "articles": nz(self.articles),
            "dropped_reasons": nz(self.dropped_reasons),
            "errors": nz(self.errors),
            "error_samples": list(self.error_samples),
            "finish_reason": self.finish_reason,
        }


class StatsFile:
    """The stats JSON of one run (``crawler.crawl_process --stats-file``), rewritten atomically."""

    def __init__(self, path: str | os.PathLike | None, run_id: str, reports: dict[str, SourceReport]):
        self.path = Path(path) if path else None
        self.run_id = run_id
        self.reports = reports
        self.started_at = _now_iso()

    def as_dict(self, finished: bool = False) -> dict[str, Any]:
        return {"run_id": self.run_id, "started_at": self.started_at, "updated_at": _now_iso(),
                "finished": finished, "sources": {n: r.to_dict() for n, r in self.reports.items()}}

    def write(self, finished: bool = False) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.as_dict(finished), indent=1), encoding="utf-8")
        os.replace(tmp, self.path)


def format_report(reports: dict[str, SourceReport], elapsed: float | None = None) -> str:
    """Human summary: per source, counts, then each error/drop reason with count and a sample URL."""
    lines = []
    for name, r in reports.items():
        a = r.articles
        lines.append(f"{name}: {r.pages_fetched} pages fetched, {r.requests} requests, articles new {a['new']}, "
                     f"updated {a['updated']}, unchanged {a['unchanged']}, dropped {a['dropped']}"
                     + (f", failed {a['failed']}" if a["failed"] else "")
                     + f"; {r.skipped_known} known URLs skipped"
                     + (f"; {r.recovered} recovered from WARC" if r.recovered else "")
                     + (f"; re-fetched: " + ", ".join(f"{k} {v}" for k, v in sorted(r.fetch_reasons.items())
                                                      if k != "new")
                        if set(r.fetch_reasons) - {"new"} else "")
                     + f" [{r.finish_reason or 'running'}]")
        for reason, n in sorted(r.dropped_reasons.items()):
            lines.append(f"  dropped {reason}: {n} (e.g. {r.first_sample.get(reason, '?')})")
        for kind, n in sorted(r.errors.items()):
            lines.append(f"  error {kind}: {n} (e.g. {r.first_sample.get(kind, '?')})")
    if elapsed is not None:
        lines.append(f"crawl took {elapsed:.1f} s")
    return "\n".join(lines)
