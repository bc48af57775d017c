"""What a search answers, as plain data (no markup): hits, facets, totals, the histogram.

Snippets and titles carry the highlight sentinels of :mod:`indexer.query.compile`; each face turns
them into its own markup (HTML in ``search_ui/render.py``, colour on the terminal) after escaping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from indexer.query.compile import HL_POST, HL_PRE
from indexer.query.params import MAX_RESULT_WINDOW, SearchParams


def strip_highlight(text: str) -> str:
    return (text or "").replace(HL_PRE, "").replace(HL_POST, "")


@dataclass
class Hit:
    id: str
    title: str
    url: str
    source: str
    published_at: str | None
    lang: str | None
    relevant: bool | None
    relevance_score: float | None
    entities: list[dict]           # id, name, type
    authors: list[str]
    title_hl: str                  # with HL_PRE/HL_POST markers, unescaped
    snippet_hl: str                # idem
    cluster_id: str | None
    similar_count: int = 0         # other articles of the same near-duplicate cluster among the matches
    similar: list[dict] = field(default_factory=list)
    score: float | None = None
    relevance_band: str = "not"    # relevant | possible | not (indexer.query.bands)
    relevance_evidence: list[str] = field(default_factory=list)   # the sentences behind the topic score

    @property
    def snippet(self) -> str:
        return strip_highlight(self.snippet_hl)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "url": self.url, "source": self.source,
            "published_at": self.published_at, "lang": self.lang, "relevant": self.relevant,
            "relevance_score": self.relevance_score, "relevance_band": self.relevance_band,
            "relevance_evidence": self.relevance_evidence, "entities": self.entities, "authors": self.authors,
            "snippet": self.snippet, "cluster_id": self.cluster_id,
            "similar_count": self.similar_count, "similar": self.similar, "score": self.score,
        }


@dataclass
class FacetValue:
    value: str
    count: int
    label: str = ""
    selected: bool = False
    hint: str = ""                 # what the value means, for a tooltip (the relevance bands' score ranges)


@dataclass
class SearchResult:
    params: SearchParams
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]]
    took_ms: int
    collapsed: bool
    stories: int | None = None      # distinct near-duplicate clusters when collapsed

    @property
    def pages(self) -> int:
        shown = self.stories if self.collapsed and self.stories is not None else self.total
        window = min(shown, MAX_RESULT_WINDOW)
        return max(1, -(-window // self.params.size))

    @property
    def truncated(self) -> bool:
        return self.total > MAX_RESULT_WINDOW

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total, "page": self.params.page, "size": self.params.size, "pages": self.pages,
            "sort": self.params.effective_sort, "relevance": self.params.relevance,
            "collapsed": self.collapsed, "stories": self.stories,
            "took_ms": self.took_ms,
            "hits": [h.as_dict() for h in self.hits],
            "facets": {k: [{"value": v.value, "label": v.label, "count": v.count, "selected": v.selected,
                            "hint": v.hint}
                           for v in vals] for k, vals in self.facets.items()},
        }


@dataclass
class Bucket:
    start: datetime
    count: int       # matches
    total: int       # all archived articles in the interval

    @property
    def share(self) -> float:
        return self.count / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "count": self.count, "total": self.total,
                "share": round(self.share, 4)}


@dataclass
class Series:
    """One query's line on the attention chart."""
    q: str                          # the query text ('' : every article under the filters)
    counts: list[int]               # matches per interval
    total: int                      # matches in the whole span

    @property
    def label(self) -> str:
        return self.q or "all articles (no query)"


@dataclass
class Attention:
    """Matches over time of one or more queries (same filters, same intervals), beside every archived
    article of each interval: what the attention chart draws and its CSV holds."""
    interval: str                   # hour | day | week | month | year
    starts: list[datetime]          # each interval's first instant (UTC)
    ends: list[datetime]            # each interval's end (exclusive)
    archived: list[int]             # all archived articles per interval, whatever the query and filters
    series: list[Series]

    def shares(self, s: Series) -> list[float]:
        return [c / a if a else 0.0 for c, a in zip(s.counts, self.archived)]

    def histogram(self, i: int = 0) -> "Histogram":
        """One series as the older histogram shape (bucket: start, count, total)."""
        counts = self.series[i].counts if self.series else [0] * len(self.starts)
        return Histogram(self.interval, [Bucket(st, c, a) for st, c, a in zip(self.starts, counts, self.archived)])

    def as_dict(self) -> dict[str, Any]:
        return {
            "interval": self.interval,
            "buckets": [{"start": st.isoformat(), "end": en.isoformat(), "archived": a}
                        for st, en, a in zip(self.starts, self.ends, self.archived)],
            "series": [{"q": s.q, "label": s.label, "total": s.total, "counts": s.counts,
                        "shares": [round(x, 6) for x in self.shares(s)]} for s in self.series],
        }

    def csv_header(self) -> list[str]:
        cols = ["interval_start", "interval_end", "all_archived"]
        for s in self.series:
            cols += [f"{s.label}: articles", f"{s.label}: share"]
        return cols

    def csv_rows(self) -> list[list[str]]:
        shares = [self.shares(s) for s in self.series]
        rows = []
        for k, (st, en, a) in enumerate(zip(self.starts, self.ends, self.archived)):
            row = [st.isoformat(), en.isoformat(), str(a)]
            for s, sh in zip(self.series, shares):
                row += [str(s.counts[k]), f"{sh[k]:.6f}"]
            rows.append(row)
        return rows


@dataclass
class Histogram:
    interval: str                   # hour | day | week | month | year
    buckets: list[Bucket]

    def as_dict(self) -> dict[str, Any]:
        return {"interval": self.interval, "buckets": [b.as_dict() for b in self.buckets]}


def entities_of(src: dict) -> list[dict]:
    """The entities of a stored document: id, name, type (details when stored, else the id/name lists)."""
    details = src.get("entities")
    if isinstance(details, list) and details and isinstance(details[0], dict):
        return [{"id": d.get("id"), "name": d.get("name") or d.get("id"), "type": d.get("type")} for d in details]
    ids = src.get("entity_ids") or []
    names = src.get("entity_names") or []
    return [{"id": i, "name": names[k] if k < len(names) else i, "type": None} for k, i in enumerate(ids)]
