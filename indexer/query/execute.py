"""Running searches: the compiled bodies sent to Elasticsearch, the answers turned into plain results.

:func:`search` (one results page with facets and near-duplicates collapsed), :func:`count`,
:func:`attention` (matches over time of one or more queries beside all archived articles; :func:`histogram`
for one) and :func:`scan` (every match,
for exports and alerts). Called by :class:`indexer.archive.Archive`, which translates errors.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Any, Iterator

from elasticsearch import Elasticsearch

from dealwatch.dates import UTC, parse_datetime, stored_date_text
from dealwatch.settings import Settings
from indexer import store
from indexer.query.bands import BANDS, RelevanceBands
from indexer.query.compile import FACETS, build_query, search_body
from indexer.query.labels import entity_labels
from indexer.query.params import SearchParams
from indexer.query.results import Attention, FacetValue, Hit, Histogram, SearchResult, Series, entities_of


def _as_list(value: Any) -> list:
    """A keyword field as a list (Elasticsearch returns a single value as it was stored)."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _evidence(value: Any) -> list[str]:
    """The stored evidence sentences as a list of text (a single sentence may be stored as a string)."""
    return [s.strip() for s in _as_list(value) if isinstance(s, str) and s.strip()]


def _hit_from(h: dict, bands: RelevanceBands) -> Hit:
    src = h.get("_source", {})
    hl = h.get("highlight", {})
    text_frags = hl.get("text") or []
    snippet = " … ".join(f.strip() for f in text_frags) or (src.get("description") or "")
    inner = h.get("inner_hits", {}).get("similar", {}).get("hits", {})
    total_inner = (inner.get("total") or {}).get("value", 0)
    similar = [{"id": s["_source"].get("id") or s["_id"], "title": s["_source"].get("title"),
                "source": s["_source"].get("source"), "url": s["_source"].get("url")}
               for s in inner.get("hits", []) if s["_id"] != h["_id"]]
    return Hit(
        id=src.get("id") or h["_id"], title=src.get("title") or "(untitled)", url=src.get("url") or "",
        source=src.get("source") or "", published_at=stored_date_text(src.get("published_at")), lang=src.get("lang"),
        relevant=src.get("relevant"), relevance_score=src.get("relevance_score"),
        relevance_band=bands.band_of(src.get("relevant"), src.get("relevance_score")),
        relevance_evidence=_evidence(src.get("relevance_evidence")),
        entities=entities_of(src), authors=_as_list(src.get("authors")),
        title_hl=(hl.get("title") or [src.get("title") or "(untitled)"])[0], snippet_hl=snippet,
        cluster_id=src.get("cluster_id"), similar_count=max(0, total_inner - 1), similar=similar,
        score=h.get("_score"),
    )


def _can_collapse(es: Elasticsearch, settings: Settings, params: SearchParams, bands: RelevanceBands) -> bool:
    """Collapse near-duplicates only when every match has a cluster id (missing ids would
    collapse into one group)."""
    missing = es.count(index=settings.articles_alias, query={"bool": {
        "filter": [build_query(params, bands=bands)], "must_not": [{"exists": {"field": "cluster_id"}}]}})["count"]
    return missing == 0


def search(es: Elasticsearch, settings: Settings, params: SearchParams, *, facets: bool = True,
           collapse: bool | None = None) -> SearchResult:
    """One results page: hits (near-duplicates collapsed when possible), facets, total."""
    params.checked(settings.ui_max_page_size, settings.ui_max_filter_values)
    bands = RelevanceBands.from_settings(settings)
    if collapse is None:
        collapse = _can_collapse(es, settings, params, bands)
    body = search_body(params, bands=bands, facets=facets, collapse=collapse)
    resp = es.search(index=settings.articles_alias, **body)
    hits = [_hit_from(h, bands) for h in resp["hits"]["hits"]]
    aggs = resp.get("aggregations", {})
    names: dict[str, str] = {}
    stories = aggs.get("stories", {}).get("n", {}).get("value") if collapse else None
    if aggs and "facet_entity" in aggs:
        ids = [b["key"] for b in aggs["facet_entity"]["values"]["buckets"]] + list(params.entities)
        names = {k: v[0] for k, v in entity_labels(es, settings, ids).items()}
    return SearchResult(params=params, total=resp["hits"]["total"]["value"], hits=hits,
                        facets=_facets_from(aggs, params, names, bands) if facets else {},
                        took_ms=resp.get("took", 0),
                        collapsed=collapse, stories=stories)


def _facets_from(aggs: dict, params: SearchParams, names: dict[str, str],
                 bands: RelevanceBands) -> dict[str, list[FacetValue]]:
    if not aggs:
        return {}
    selected = {"entity": set(params.entities), "type": set(params.entity_types), "source": set(params.sources),
                "lang": set(params.langs), "found_via": set(params.found_via)}
    out: dict[str, list[FacetValue]] = {}
    for name in FACETS:
        buckets = aggs.get(f"facet_{name}", {}).get("values", {}).get("buckets", [])
        vals = []
        for b in buckets:
            key = str(b["key"])
            label = names.get(key, key) if name == "entity" else key
            vals.append(FacetValue(key, b["doc_count"], label, key in selected[name]))
        # a selected value with no matches still shows (count 0) so it can be removed
        for s in selected[name] - {v.value for v in vals}:
            vals.append(FacetValue(s, 0, names.get(s, s), True))
        out[name] = vals
    # the three relevance bands, always all three (a band with no matches counts 0)
    counts = aggs.get("facet_relevance", {}).get("bands", {}).get("buckets", {})
    out["relevance"] = [FacetValue(b, counts.get(b, {}).get("doc_count", 0), bands.label(b), b == params.relevance,
                                   hint=bands.score_range(b)) for b in BANDS]
    return out


def count(es: Elasticsearch, settings: Settings, params: SearchParams) -> int:
    """Number of matching articles (no collapsing): what the export writes."""
    bands = RelevanceBands.from_settings(settings)
    return es.count(index=settings.articles_alias, query=build_query(params, bands=bands))["count"]


# ---------------------------------------------------------------------------------------
# Hits over time
# ---------------------------------------------------------------------------------------

def _interval_for(span: timedelta) -> str:
    """An interval giving a readable number of bars (about 10 to 60) for the span of dates."""
    if span <= timedelta(days=2):
        return "hour"
    if span <= timedelta(days=45):
        return "day"
    if span <= timedelta(days=366):
        return "week"
    return "month" if span <= timedelta(days=10 * 366) else "year"


def _next_start(start: datetime, interval: str) -> datetime:
    """Where the calendar interval beginning at ``start`` ends (the calendar's last instant at its end)."""
    try:
        if interval == "hour":
            return start + timedelta(hours=1)
        if interval == "day":
            return start + timedelta(days=1)
        if interval == "week":
            return start + timedelta(days=7)
        if interval == "month":
            return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        return start.replace(year=start.year + 1)
    except (OverflowError, ValueError):
        return datetime.max.replace(tzinfo=UTC)


# The dates a chart can draw: Python's calendar (years 1-9999). A document stored with a date outside it
# (another tool wrote epoch milliseconds of the year 10000) is left out of the chart, like an undated one.
CALENDAR = {"range": {"published_at": {"gte": "0001-01-01T00:00:00Z", "lte": "9999-12-31T23:59:59.999Z"}}}
_LAST_MS = time(23, 59, 59, 999000)


def _span(es: Elasticsearch, settings: Settings, params: SearchParams,
          queries: list[dict]) -> tuple[datetime, datetime] | None:
    """The chart's time span: the chosen date range where given, else from the first to the last match
    of any of the queries; never beyond the first and last archived article (``to=9999-12-31`` draws up to
    the newest one, not 8,000 empty years)."""
    lo = datetime.combine(params.date_from, time.min, tzinfo=UTC) if params.date_from else None
    hi = datetime.combine(params.date_to, _LAST_MS, tzinfo=UTC) if params.date_to else None
    dates = {"first": {"min": {"field": "published_at"}}, "last": {"max": {"field": "published_at"}}}
    aggs: dict[str, Any] = {"all": {"filter": {"match_all": {}}, "aggs": dates}}
    if lo is None or hi is None:
        aggs.update({f"s{i}": {"filter": q, "aggs": dates} for i, q in enumerate(queries)})
    stats = es.search(index=settings.articles_alias, size=0, query=CALENDAR, aggs=aggs)["aggregations"]
    every = stats.pop("all")
    archived = parse_datetime(every["first"].get("value")), parse_datetime(every["last"].get("value"))
    if archived[0] is None or archived[1] is None:
        return None
    firsts = [d for a in stats.values() if (d := parse_datetime(a["first"].get("value")))]
    lasts = [d for a in stats.values() if (d := parse_datetime(a["last"].get("value")))]
    lo = max(lo, archived[0]) if lo else min(firsts, default=None)
    hi = min(hi, archived[1]) if hi else max(lasts, default=None)
    if lo is None or hi is None:
        return None
    return (lo, hi) if lo <= hi else None


def attention(es: Elasticsearch, settings: Settings, params: SearchParams) -> Attention:
    """Matches per interval of the search and of each query it is compared with (:attr:`SearchParams.compare`,
    same filters), beside the number of all archived articles in the same intervals.

    The span is the chosen date range, else the first to the last match of any query; the interval
    (hour/day/week/month/year) follows its length. Two requests whatever the number of queries.
    """
    bands = RelevanceBands.from_settings(settings)
    searches = params.compared
    queries = [build_query(p, bands=bands) for p in searches]
    span = _span(es, settings, params, queries)
    if span is None:
        return Attention("day", [], [], [], [Series(p.q, [], 0) for p in searches])
    lo, hi = span
    interval = _interval_for(hi - lo)
    resp = es.search(index=settings.articles_alias, size=0,
                     query={"range": {"published_at": {"gte": lo.isoformat(), "lte": hi.isoformat()}}},
                     aggs={"over_time": {
                         "date_histogram": {"field": "published_at", "calendar_interval": interval,
                                            "min_doc_count": 0, "time_zone": "UTC",
                                            "extended_bounds": {"min": lo.isoformat(), "max": hi.isoformat()}},
                         "aggs": {f"s{i}": {"filter": q} for i, q in enumerate(queries)}}})
    buckets = resp["aggregations"]["over_time"]["buckets"]
    starts = [parse_datetime(b["key"]) for b in buckets]
    ends = [*starts[1:], _next_start(starts[-1], interval)] if starts else []
    series = []
    for i, p in enumerate(searches):
        counts = [b[f"s{i}"]["doc_count"] for b in buckets]
        series.append(Series(p.q, counts, sum(counts)))
    return Attention(interval, starts, ends, [b["doc_count"] for b in buckets], series)


def histogram(es: Elasticsearch, settings: Settings, params: SearchParams) -> Histogram:
    """Matches per interval with the number of all archived articles in the same interval (the
    search alone: :func:`attention` of it without the compared queries)."""
    return attention(es, settings, params.model_copy(update={"compare": ()})).histogram(0)


# ---------------------------------------------------------------------------------------
# Articles, entities, sources: the data behind the other pages and API endpoints
# ---------------------------------------------------------------------------------------


def scan(es: Elasticsearch, settings: Settings, params: SearchParams, fields: list[str],
         page_size: int = 500) -> Iterator[dict[str, Any]]:
    """Every matching hit (no collapsing, newest first), read through a point in time."""
    sort = [{"published_at": {"order": "desc", "missing": "_last"}}]
    query = build_query(params, bands=RelevanceBands.from_settings(settings))
    yield from store.scan(es, settings, query, fields, sort, page_size)
