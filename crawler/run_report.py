"""The run report: a run's id, the names of its counters, and the stats file the supervisor reads.

A crawl counts in Scrapy's own stats (``crawler.stats``): Scrapy counts requests and
responses, the spider and the item pipelines count under the ``dealwatch/`` keys named
here (``dealwatch/articles/new``, ``dealwatch/dropped/no_text``, ``dealwatch/errors/http_404``,
…). The :class:`~crawler.extensions.RunReport` extension turns a source's stats into its
entry of the **stats file** (:func:`source_entry`) about every second and at the end;
:mod:`crawler.crawl_process` writes the file's envelope (:func:`start_stats_file`,
:func:`finish_stats_file`) and prints :func:`format_report`. The stats file::

    {"run_id": "...", "started_at": "...", "updated_at": "...", "finished": false,
     "sources": {"<name>": {"pages_fetched": 0, "requests": 0, "skipped_known": 0, "recovered": 0,
                            "fetch_reasons": {"new": 0}, "articles": {"new": 0, "updated": 0, ...},
                            "dropped_reasons": {"no_text": 0}, "errors": {"http_404": 0},
                            "error_samples": [{"url", "kind", "message"}], "first_samples": {kind: url},
                            "finish_reason": "finished"}}}

is rewritten atomically (tmp + rename), so a reader never sees half a file.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any, Iterable

from dealwatch.dates import to_iso, utcnow

log = logging.getLogger(__name__)

# --- the counters (keys of crawler.stats) ----------------------------------------------
PREFIX = "dealwatch/"
ARTICLES = PREFIX + "articles/"            # + new | updated | unchanged | dropped | failed
DROPPED = PREFIX + "dropped/"              # + no_text | not_html | too_large | parse
ERRORS = PREFIX + "errors/"                # + dns | connection | timeout | http_<status> | robots | ...
FETCH_REASONS = PREFIX + "fetch_reasons/"  # + new | lastmod | revisit: why an article page was requested
SKIPPED_KNOWN = PREFIX + "skipped_known"   # article URLs not fetched: already archived and not due
RECOVERED = PREFIX + "recovered"           # pages re-read from the WARC after an interrupted run
ITEMS = PREFIX + "items/"                  # search items: + seen | known | duplicate | decoded_by_google
ITEM_ERRORS = ITEMS + "errors/"            # + the error kind of an item's request (robots, blocked, http_404, ...)
THROTTLED = PREFIX + "throttled/"          # + 429 | 503 (waits for Retry-After) | seconds (waited in all)
# counted by Scrapy itself
PAGES_FETCHED = "response_received_count"
REQUESTS = "downloader/request_count"

MAX_SAMPLES = 20


def new_run_id() -> str:
    """The id of one run: its UTC start time and a random tail (``20261129T101500Z-3f9a1c``)."""
    return utcnow().strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


# --- one source's entry --------------------------------------------------------------

def _under(stats: dict[str, Any], prefix: str) -> dict[str, int]:
    return {k[len(prefix):]: int(v) for k, v in stats.items() if k.startswith(prefix) and v}


def item_outcomes(stats: dict[str, Any]) -> dict[str, int]:
    """What became of a search source's items: ``seen``, ``articles`` (indexed: new, updated or
    unchanged) and every other outcome by name (``known``, ``duplicate``, the drop reasons, the
    error kinds of item requests). ``seen`` is the sum of all the others. Empty for a site source."""
    seen = int(stats.get(ITEMS + "seen", 0) or 0)
    if not seen:
        return {}
    articles = _under(stats, ARTICLES)
    out = {"seen": seen, "articles": sum(articles.get(k, 0) for k in ("new", "updated", "unchanged", "failed"))}
    for name in ("known", "duplicate", "excluded", "navigation"):
        if stats.get(ITEMS + name):
            out[name] = int(stats[ITEMS + name])
    for reasons in (_under(stats, DROPPED), _under(stats, ITEM_ERRORS)):
        for name, n in reasons.items():
            out[name] = out.get(name, 0) + n
    return out


def source_entry(stats: dict[str, Any], samples: list[dict[str, str]] = (),
                 first_samples: dict[str, str] | None = None, finish_reason: str | None = None) -> dict[str, Any]:
    """A source's entry of the stats file, from its crawler's stats (a plain dict)."""
    return {
        "pages_fetched": int(stats.get(PAGES_FETCHED, 0)),
        "requests": int(stats.get(REQUESTS, 0)),
        "skipped_known": int(stats.get(SKIPPED_KNOWN, 0)),
        "recovered": int(stats.get(RECOVERED, 0)),
        "fetch_reasons": _under(stats, FETCH_REASONS),
        "articles": _under(stats, ARTICLES),
        "dropped_reasons": _under(stats, DROPPED),
        "errors": _under(stats, ERRORS),
        "items": item_outcomes(stats),
        "throttled": _under(stats, THROTTLED),
        "meta_refresh": _under(stats, PREFIX + "meta_refresh/"),
        "error_samples": list(samples),
        "first_samples": dict(first_samples or {}),
        "finish_reason": finish_reason or stats.get("finish_reason"),
    }


# --- the file ------------------------------------------------------------------------

def read_stats_file(path: Path) -> dict[str, Any] | None:
    """The stats JSON, or None while it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        log.debug("stats file %s not readable yet: %s", path, exc)
        return None


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc["updated_at"] = to_iso(utcnow(), "seconds")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _envelope(run_id: str) -> dict[str, Any]:
    return {"run_id": run_id, "started_at": to_iso(utcnow(), "seconds"), "updated_at": None, "finished": False,
            "sources": {}}


def start_stats_file(path: Path, run_id: str, names: Iterable[str]) -> None:
    """A new stats file: every source of the run, nothing counted yet."""
    doc = _envelope(run_id)
    doc["sources"] = {name: source_entry({}) for name in names}
    _write(Path(path), doc)


def update_source(path: Path, run_id: str, name: str, entry: dict[str, Any]) -> None:
    """Replace one source's entry (each source's crawler writes its own)."""
    path = Path(path)
    doc = read_stats_file(path) or _envelope(run_id)
    doc.setdefault("sources", {})[name] = entry
    _write(path, doc)


def finish_stats_file(path: Path, run_id: str) -> dict[str, Any]:
    """Mark the run finished (a source whose crawl never started says so); returns the final file."""
    path = Path(path)
    doc = read_stats_file(path) or _envelope(run_id)
    for entry in doc.get("sources", {}).values():
        entry["finish_reason"] = entry.get("finish_reason") or "not_started"
    doc["finished"] = True
    _write(path, doc)
    return doc


# --- the summary printed at the end --------------------------------------------------

def format_report(sources: dict[str, dict[str, Any]], elapsed: float | None = None) -> str:
    """Per source: counts, then each drop reason and error kind with its count and a sample URL."""
    lines = []
    for name, r in sources.items():
        a, reasons, samples = r.get("articles", {}), r.get("fetch_reasons", {}), r.get("first_samples", {})
        refetched = {k: v for k, v in sorted(reasons.items()) if k != "new"}
        lines.append(f"{name}: {r.get('pages_fetched', 0)} pages fetched, {r.get('requests', 0)} requests, articles "
                     f"new {a.get('new', 0)}, updated {a.get('updated', 0)}, unchanged {a.get('unchanged', 0)}, "
                     f"dropped {a.get('dropped', 0)}"
                     + (f", failed {a['failed']}" if a.get("failed") else "")
                     + f"; {r.get('skipped_known', 0)} known URLs skipped"
                     + (f"; {r['recovered']} recovered from WARC" if r.get("recovered") else "")
                     + ("; re-fetched: " + ", ".join(f"{k} {v}" for k, v in refetched.items()) if refetched else "")
                     + f" [{r.get('finish_reason') or 'running'}]")
        items = r.get("items") or {}
        if items:
            others = ", ".join(f"{k} {v}" for k, v in sorted(items.items()) if k not in ("seen", "articles"))
            lines.append(f"  search items {items['seen']}: articles {items['articles']}" + (f", {others}" if others else ""))
        throttled = r.get("throttled") or {}
        if throttled:
            waits = ", ".join(f"{k} ×{v}" for k, v in sorted(throttled.items()) if k != "seconds")
            lines.append(f"  waited {throttled.get('seconds', 0)} s for Retry-After ({waits})")
        for reason, n in sorted(r.get("dropped_reasons", {}).items()):
            lines.append(f"  dropped {reason}: {n} (e.g. {samples.get(reason, '?')})")
        for kind, n in sorted(r.get("errors", {}).items()):
            lines.append(f"  error {kind}: {n} (e.g. {samples.get(kind, '?')})")
    if elapsed is not None:
        lines.append(f"crawl took {elapsed:.1f} s")
    return "\n".join(lines)
