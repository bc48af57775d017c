"""Names of entities for the pages: the watchlist first, else what a stored document says."""

from __future__ import annotations

from typing import Any, Iterable

from elasticsearch import Elasticsearch

from dealwatch.settings import Settings
from indexer.enrich.watchlist import load_watchlist
from indexer.query.results import entities_of

LABEL_DOC = {"top_hits": {"size": 1, "_source": ["entities", "entity_ids", "entity_names", "entity_types"]}}


def watchlist(settings: Settings) -> dict[str, dict[str, Any]]:
    """Watchlist entities by id: ``{id, name, type, aliases}`` (read once per process by the loader)."""
    return {e.id: {"id": e.id, "name": e.name or e.id, "type": e.type or "", "aliases": list(e.aliases)}
            for e in load_watchlist(settings.watchlist_file)}


def label_of(entity_id: str, bucket: dict) -> tuple[str, str]:
    """(name, type) of an entity from a bucket's ``doc`` top hit (details, or the parallel id/name lists)."""
    hits = bucket.get("doc", {}).get("hits", {}).get("hits", [])
    if hits:
        for e in entities_of(hits[0].get("_source", {})):
            if e["id"] == entity_id:
                return e["name"] or entity_id, e.get("type") or ""
    return entity_id, ""


def entity_labels(es: Elasticsearch, settings: Settings, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Names and types of entity ids: the watchlist first, else a document that mentions them."""
    ids = list(dict.fromkeys(ids))
    known = watchlist(settings)
    out = {i: (known[i]["name"], known[i]["type"]) for i in ids if i in known}
    missing = [i for i in ids if i not in out]
    if missing:
        resp = es.search(index=settings.articles_alias, size=0, query={"terms": {"entity_ids": missing}},
                         aggs={"ids": {"terms": {"field": "entity_ids", "include": missing, "size": len(missing)},
                                       "aggs": {"doc": LABEL_DOC}}})
        for b in resp["aggregations"]["ids"]["buckets"]:
            out[b["key"]] = label_of(b["key"], b)
    return out
