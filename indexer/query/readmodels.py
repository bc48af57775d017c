"""The read models of the pages: an article with its versions, entities, sources.

Each function answers one page or API endpoint of the faces with plain data. Sources as
configured come from the registry the crawler fills (:mod:`indexer.source_registry`), so the
indexer reads no crawl configuration.
"""

from __future__ import annotations

import logging
from typing import Any

from elasticsearch import Elasticsearch

from dealwatch.dates import parse_datetime
from dealwatch.settings import Settings
from indexer import run_history, source_registry, store
from indexer.query import execute
from indexer.query.labels import LABEL_DOC, entity_labels, label_of, watchlist
from indexer.query.params import SearchParams

log = logging.getLogger(__name__)


def article(es: Elasticsearch, settings: Settings, doc_id: str) -> dict[str, Any] | None:
    """The stored document with its earlier versions and the other copies of its cluster."""
    doc = store.get_document(es, settings, doc_id)
    if doc is None:
        return None
    doc = dict(doc)
    doc.setdefault("id", doc_id)
    doc["versions"] = store.get_versions(es, settings, doc_id, current=doc)
    doc["cluster_copies"] = []
    if doc.get("cluster_id"):
        resp = es.search(index=settings.articles_alias, size=50,
                         query={"bool": {"filter": [{"term": {"cluster_id": doc["cluster_id"]}}],
                                         "must_not": [{"ids": {"values": [doc_id]}}]}},
                         sort=[{"published_at": {"order": "asc", "missing": "_last"}}],
                         _source=["id", "title", "source", "url", "published_at", "lang"])
        doc["cluster_copies"] = [{**h["_source"], "id": h["_source"].get("id") or h["_id"]}
                                 for h in resp["hits"]["hits"]]
    return doc


def entity_list(es: Elasticsearch, settings: Settings, prefix: str = "", limit: int = 500,
                relevant_only: bool = False) -> list[dict[str, Any]]:
    """Entities with the number of articles mentioning them (watchlist entries with none too),
    most mentioned first; ``prefix`` filters by the start of the id, name, an alias or a word of them."""
    query = {"term": {"relevant": True}} if relevant_only else {"match_all": {}}
    resp = es.search(index=settings.articles_alias, size=0, query=query, aggs={
        "ids": {"terms": {"field": "entity_ids", "size": 2000},
                "aggs": {"doc": LABEL_DOC, "relevant": {"filter": {"term": {"relevant": True}}}}}})
    known = watchlist(settings)
    out: dict[str, dict[str, Any]] = {}
    for b in resp["aggregations"]["ids"]["buckets"]:
        w = known.get(b["key"], {})
        name, etype = label_of(b["key"], b)
        out[b["key"]] = {"id": b["key"], "name": w.get("name") or name, "type": w.get("type") or etype,
                         "aliases": w.get("aliases", []), "articles": b["doc_count"],
                         "relevant_articles": b["relevant"]["doc_count"]}
    for eid, w in known.items():
        out.setdefault(eid, {**w, "articles": 0, "relevant_articles": 0})
    items = list(out.values())
    p = prefix.strip().lower()
    if p:
        def matches(e: dict[str, Any]) -> bool:
            names = [e["id"], e["name"], *e.get("aliases", [])]
            return any(n.lower().startswith(p) or any(w.startswith(p) for w in n.lower().split()) for n in names)
        items = [e for e in items if matches(e)]
    items.sort(key=lambda e: (-e["articles"], e["name"].lower()))
    return items[:limit]


def entity_detail(es: Elasticsearch, settings: Settings, entity_id: str, latest: int = 10) -> dict[str, Any] | None:
    """One entity: article counts, mentions over time, top co-mentioned entities, latest relevant articles."""
    mentions = {"term": {"entity_ids": entity_id}}
    resp = es.search(index=settings.articles_alias, size=0, query=mentions, aggs={
        "relevant": {"filter": {"term": {"relevant": True}}},
        "co": {"terms": {"field": "entity_ids", "size": 16, "exclude": [entity_id]}},
        "sources": {"terms": {"field": "source", "size": 20}},
    })
    total = resp["hits"]["total"]["value"]
    known = watchlist(settings).get(entity_id)
    if total == 0 and known is None:
        return None
    a = resp["aggregations"]
    over_time = execute.histogram(es, settings, SearchParams(entities=(entity_id,), relevance="all"))
    latest_params = SearchParams(entities=(entity_id,), relevance="relevant", sort="newest", size=latest)
    latest_hits = execute.search(es, settings, latest_params, facets=False, collapse=False).hits
    labels = entity_labels(es, settings, [entity_id] + [b["key"] for b in a["co"]["buckets"]])
    names = {k: v[0] for k, v in labels.items()}
    own_name, own_type = labels.get(entity_id, (entity_id, ""))
    return {
        "id": entity_id, "name": own_name, "type": own_type,
        "aliases": (known or {}).get("aliases", []), "articles": total,
        "relevant_articles": a["relevant"]["doc_count"], "over_time": over_time,
        "co_mentioned": [{"id": b["key"], "name": names[b["key"]], "articles": b["doc_count"]}
                         for b in a["co"]["buckets"]],
        "sources": [{"source": b["key"], "articles": b["doc_count"]} for b in a["sources"]["buckets"]],
        "latest": latest_hits,
    }


def sources_overview(es: Elasticsearch, settings: Settings, runs_per_source: int = 5) -> list[dict[str, Any]]:
    """Per source (registered, archived or run): articles archived (and relevant), newest article,
    last runs and next run when recorded; for a search source also the articles it found
    (``found_via: search:<name>``; some of them belong to their publishers' own sources)."""
    by_name = source_registry.registered(es, settings)
    resp = es.search(index=settings.articles_alias, size=0, aggs={"by_source": {
        "terms": {"field": "source", "size": 1000},
        "aggs": {"relevant": {"filter": {"term": {"relevant": True}}},
                 "newest": {"max": {"field": "published_at"}}, "crawled": {"max": {"field": "crawled_at"}}}},
        "found": {"terms": {"field": "found_via", "size": 1000, "include": "search:.*"}}})
    archived = {b["key"]: b for b in resp["aggregations"]["by_source"]["buckets"]}
    found = {b["key"].removeprefix("search:"): b["doc_count"] for b in resp["aggregations"]["found"]["buckets"]}
    summaries = run_history.source_summaries(es, settings)
    runs_of = {name: run_history.last_runs(es, settings, source=name, n=runs_per_source) for name in summaries}
    out = []
    for name in sorted(set(by_name) | set(archived) | set(summaries) | set(found)):
        b = archived.get(name)
        src = by_name.get(name)
        summ = summaries.get(name)
        out.append({
            "source": name, "configured": src is not None, "homepage": src.homepage if src else "",
            "kind": src.kind if src else "", "found_articles": found.get(name, 0),
            "schedule": src.schedule if src else "",
            "articles": b["doc_count"] if b else 0, "relevant_articles": b["relevant"]["doc_count"] if b else 0,
            "newest_article": parse_datetime(b["newest"].get("value")) if b else None,
            "last_crawled": parse_datetime(b["crawled"].get("value")) if b else None,
            "runs": runs_of.get(name, []),
            "runs_total": summ.runs if summ else 0,
            "last_error": summ.last_error if summ else "",
            "next_run_at": summ.next_run_at if summ else None,
        })
    # sources with articles or runs first, then the configured ones that never ran
    out.sort(key=lambda s: (not (s["articles"] or s["runs"]), s["source"]))
    return out


def search_publishers(es: Elasticsearch, settings: Settings, limit: int = 50) -> list[dict[str, Any]]:
    """Per publisher domain that search sources surfaced (``found_via: search:*``), most articles first:
    articles, relevant articles, main language, site name, last seen (crawled), the search sources
    and one article URL (its scheme and port say where the site answers)."""
    resp = es.search(index=settings.articles_alias, size=0, query={"prefix": {"found_via": "search:"}}, aggs={
        "by_domain": {"terms": {"field": "domain", "size": limit}, "aggs": {
            "relevant": {"filter": {"term": {"relevant": True}}},
            "lang": {"terms": {"field": "lang", "size": 1}},
            "site": {"terms": {"field": "site_name", "size": 1}},
            "via": {"terms": {"field": "found_via", "size": 20}},
            "sources": {"terms": {"field": "source", "size": 20}},
            "last": {"max": {"field": "crawled_at"}},
            "sample": {"top_hits": {"size": 1, "_source": ["url", "canonical_url"],
                                    "sort": [{"crawled_at": {"order": "desc"}}]}},
        }}})
    out = []
    for b in resp["aggregations"]["by_domain"]["buckets"]:
        sample = b["sample"]["hits"]["hits"][0]["_source"]
        out.append({
            "domain": b["key"], "articles": b["doc_count"], "relevant_articles": b["relevant"]["doc_count"],
            "lang": (b["lang"]["buckets"] or [{"key": ""}])[0]["key"],
            "site_name": (b["site"]["buckets"] or [{"key": ""}])[0]["key"],
            "found_via": [x["key"] for x in b["via"]["buckets"]],
            "sources": [x["key"] for x in b["sources"]["buckets"]],
            "last_seen": parse_datetime(b["last"].get("value")),
            "url": sample.get("canonical_url") or sample.get("url"),
        })
    return out
