"""A digest's entries: the new articles of an alert as plain data, near-duplicates grouped.

Pure functions over the matched documents (and the health problems): each entry has the title,
source, date, relevance, its evidence sentence, the original URL and the link to the archived
article page; articles of one near-duplicate cluster (``cluster_id``) become one entry with the
others listed under ``also``. Entries are frozen into the digest when it is built, so a digest
sent again after a failure or a crash says exactly what it said the first time.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from dealwatch.settings import Settings
from indexer.query.bands import RelevanceBands
from indexer.source_health import Problem


def article_link(settings: Settings, article_id: str) -> str:
    return f"{settings.public_url}/articles/{quote(article_id, safe='')}"


def search_link(settings: Settings, query: str) -> str:
    return f"{settings.public_url}/" + (f"?{query}" if query else "")


def _evidence(value: Any) -> str:
    items = value if isinstance(value, list) else [value] if value else []
    return next((s.strip() for s in items if isinstance(s, str) and s.strip()), "")


def _entry(doc: dict[str, Any], settings: Settings, bands: RelevanceBands) -> dict[str, Any]:
    score = doc.get("relevance_score")
    return {"id": doc["id"], "title": doc.get("title") or "(untitled)", "source": doc.get("source") or "",
            "published_at": doc.get("published_at"), "relevance_score": score,
            "relevance_band": bands.band_of(doc.get("relevant"), score),
            "evidence": _evidence(doc.get("relevance_evidence")), "url": doc.get("url") or "",
            "link": article_link(settings, doc["id"]), "also": []}


def article_entries(docs: list[dict[str, Any]], settings: Settings) -> list[dict[str, Any]]:
    """One entry per near-duplicate cluster among ``docs``, best scored first; the others under ``also``."""
    bands = RelevanceBands.from_settings(settings)
    groups: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        groups.setdefault(doc.get("cluster_id") or doc["id"], []).append(doc)
    entries = []
    for members in groups.values():
        members.sort(key=lambda d: (-(d.get("relevance_score") or 0), d.get("published_at") or "", d["id"]))
        entry = _entry(members[0], settings, bands)
        entry["also"] = [{"id": d["id"], "title": d.get("title") or "(untitled)", "source": d.get("source") or "",
                          "url": d.get("url") or "", "link": article_link(settings, d["id"])} for d in members[1:]]
        entries.append(entry)
    entries.sort(key=lambda e: (-(e["relevance_score"] or 0), -_day(e["published_at"]), e["id"]))
    return entries


def _day(value: str | None) -> float:
    from dealwatch.dates import parse_datetime
    when = parse_datetime(value) if value else None
    return when.timestamp() if when else 0.0


def health_entries(problems: list[Problem], settings: Settings) -> list[dict[str, Any]]:
    """One entry per source-health problem, linked to the sources page."""
    return [{"id": p.event_id, "title": p.message, "source": p.event_id.split(":", 1)[0], "kind": p.kind,
             "published_at": p.since.isoformat() if p.since else None, "relevance_score": None,
             "relevance_band": "", "evidence": "", "url": "",
             "link": f"{settings.public_url}/sources?" + urlencode({"source": p.event_id.split(':', 1)[0]}),
             "also": []} for p in problems]


def article_count(entries: list[dict[str, Any]]) -> int:
    return sum(1 + len(e.get("also") or []) for e in entries)
