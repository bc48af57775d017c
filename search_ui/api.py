"""The JSON API: search, articles, entities and sources, with response models in the OpenAPI document.

The parameters of ``/api/search`` are those of :class:`indexer.query.SearchParams`, the model
every face shares, so ``/openapi.json`` documents exactly what the app reads.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from search_ui import render
from search_ui.dependencies import ArchiveDep, SearchParamsDep
from search_ui.errors import NotFound, shown
from search_ui.pages import export_url

router = APIRouter(prefix="/api", tags=["api"])


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class EntityRef(BaseModel):
    id: str | None
    name: str | None
    type: str | None = None


class HitOut(BaseModel):
    id: str
    title: str
    title_html: str = Field(description="The title, escaped, with the query's words in <mark>")
    url: str
    source: str
    published_at: str | None
    lang: str | None
    relevant: bool | None
    relevance_score: float | None
    relevance_band: str = Field(description="relevant | possible (scored just below the threshold: review it) | not")
    relevance_evidence: list[str] = Field(description="The sentences behind the topic score")
    entities: list[EntityRef]
    authors: list[str]
    snippet: str
    snippet_html: str = Field(description="The snippet, escaped, with the query's words in <mark>")
    cluster_id: str | None
    similar_count: int = Field(description="Other articles of the same near-duplicate cluster among the matches")
    similar: list[dict[str, Any]]
    score: float | None


class FacetValueOut(BaseModel):
    value: str
    label: str
    count: int
    selected: bool
    hint: str = Field("", description="What the value means (the score range of a relevance band)")


class BucketOut(BaseModel):
    start: str
    count: int
    total: int
    share: float


class HistogramOut(BaseModel):
    interval: str
    buckets: list[BucketOut]


class AttentionBucketOut(BaseModel):
    start: str = Field(description="The interval's first instant, UTC")
    end: str = Field(description="The interval's end (exclusive), UTC")
    archived: int = Field(description="All archived articles published in the interval, whatever the query")


class SeriesOut(BaseModel):
    q: str = Field(description="The query ('' : every article under the filters)")
    label: str
    total: int = Field(description="Matching articles in the whole span")
    counts: list[int] = Field(description="Matching articles per interval")
    shares: list[float] = Field(description="Their share of the archived articles of each interval, 0 to 1")


class AttentionOut(BaseModel):
    interval: str = Field(description="hour | day | week | month | year")
    buckets: list[AttentionBucketOut]
    series: list[SeriesOut] = Field(description="The search, then each compared query (compare=)")
    links: dict[str, str] = Field(description="The series as CSV, and the search as a web page")


class SearchOut(BaseModel):
    total: int = Field(description="Matching articles")
    page: int
    size: int
    pages: int
    sort: str
    relevance: str = Field(description="The relevance band searched: relevant, possible or all")
    collapsed: bool = Field(description="Near-duplicates grouped into one hit")
    stories: int | None = Field(description="Distinct near-duplicate clusters among the matches, when collapsed")
    took_ms: int
    hits: list[HitOut]
    facets: dict[str, list[FacetValueOut]]
    links: dict[str, str] = Field(description="The same search as CSV, JSON Lines, Atom and a web page")
    histogram: HistogramOut | None = None


class EntityOut(_Open):
    id: str
    name: str
    type: str
    articles: int
    relevant_articles: int


class EntitiesOut(BaseModel):
    entities: list[EntityOut]


class SourcesOut(BaseModel):
    sources: list[dict[str, Any]]


@router.get("/search", summary="Search articles", response_model=SearchOut)
def api_search(params: SearchParamsDep, archive: ArchiveDep,
               histogram: bool = Query(False, description="true: add hits over time")):
    result = archive.search(params)
    body: dict[str, Any] = result.as_dict()
    body["hits"] = [render.hit_json(h) for h in result.hits]
    if histogram:
        body["histogram"] = archive.histogram(params).as_dict()
    body["links"] = {"csv": export_url(params, "/export.csv"), "jsonl": export_url(params, "/export.jsonl"),
                     "atom": export_url(params, "/feed.atom"), "html": export_url(params, "/")}
    return body


@router.get("/histogram", summary="Matches over time of a search and up to 3 compared queries",
            response_model=AttentionOut)
def api_histogram(params: SearchParamsDep, archive: ArchiveDep):
    """The attention chart's data: per interval, the matches of ``q`` and of each ``compare`` query
    (under the same filters) and all archived articles. The span is ``from``–``to`` when given, else
    the first to the last match; the interval follows its length."""
    body = archive.attention(params).as_dict()
    body["links"] = {"csv": export_url(params, "/histogram.csv", keep_compare=True),
                     "html": export_url(params, "/", keep_compare=True)}
    return body


@router.get("/articles/{doc_id}", summary="One article with versions and cluster copies", response_model=_Open)
def api_article(doc_id: str, archive: ArchiveDep):
    doc = archive.article(doc_id)
    if doc is None:
        raise NotFound(f"No article with id {shown(doc_id)} in the archive.")
    for k in ("title_lemmas", "text_lemmas", "lsh_bands"):
        doc.pop(k, None)
    doc["raw_available"] = archive.has_raw_page(doc)
    return doc


@router.get("/entities", summary="Entities with article counts; prefix for type-ahead", response_model=EntitiesOut)
def api_entities(archive: ArchiveDep, prefix: str = Query("", max_length=100),
                 limit: int = Query(50, ge=1, le=1000, description="At most this many, 1 to 1000")):
    return {"entities": archive.entities(prefix=prefix, limit=limit)}


@router.get("/entities/{entity_id}", summary="One entity: mentions over time, co-mentions", response_model=_Open)
def api_entity(entity_id: str, archive: ArchiveDep):
    d = archive.entity(entity_id)
    if d is None:
        raise NotFound(f"No entity {shown(entity_id)}: it is neither on the watchlist nor mentioned.")
    d["over_time"] = [b.as_dict() for b in d["over_time"].buckets]
    d["latest"] = [render.hit_json(h) for h in d["latest"]]
    return d


@router.get("/sources", summary="Sources: articles archived, last runs, next run, health", response_model=SourcesOut)
def api_sources(archive: ArchiveDep):
    out = []
    health = archive.source_health()
    for s in archive.sources_overview():
        s = dict(s)
        s["health"] = health[s["source"]].as_dict() if s["source"] in health else {"state": "ok", "problems": []}
        s["runs"] = [r.as_summary() for r in s["runs"]]
        for k in ("newest_article", "last_crawled", "next_run_at"):
            s[k] = s[k].isoformat() if s[k] else None
        out.append(s)
    return {"sources": out}


@router.get("/{rest:path}", include_in_schema=False)
def api_unknown(rest: str):
    raise NotFound(f"No API endpoint {shown('/api/' + rest)}; see /docs.")
