"""Elasticsearch storage: the versioned index template, the alias, and idempotent bulk writes.

Index layout: the template ``<prefix>articles-template`` (version = schema version) applies
the mapping from :mod:`indexer.schema` to ``<prefix>articles-v*``; the alias
``<prefix>articles`` points at the current ``<prefix>articles-v<N>``. Reading always goes
through the alias, so a new mapping means: build ``articles-v<N+1>``, reindex, move the alias.

Writes are idempotent: the document id is derived from the canonical URL. When an article's
content hash changes, the previous text goes to ``<prefix>article-versions`` (with its dates
and version number) and the searchable document becomes the new version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterable

from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.helpers import streaming_bulk

from dealwatch.settings import Settings
from indexer import schema

log = logging.getLogger(__name__)

VERSIONS_MAPPING = {
    "dynamic": "strict",
    "properties": {
        "article_id": {"type": "keyword"},
        "version": {"type": "integer"},
        "title": {"type": "text", "analyzer": "standard"},
        "text": {"type": "text", "analyzer": "standard"},
        "content_hash": {"type": "keyword"},
        "valid_from": {"type": "date"},   # when this text was first seen
        "valid_to": {"type": "date"},     # when it was replaced
        "url": {"type": "keyword"},
        "raw_warc": {"type": "keyword", "index": False},
        "raw_offset": {"type": "long", "index": False},
        "raw_length": {"type": "long", "index": False},
    },
}


def concrete_index(settings: Settings, version: int = schema.SCHEMA_VERSION) -> str:
    return f"{settings.articles_alias}-v{version}"


def template_name(settings: Settings) -> str:
    return f"{settings.articles_alias}-template"


def ensure_index(es: Elasticsearch, settings: Settings) -> str:
    """Create (or update) the template, the current index and the alias. Returns the index name."""
    es.indices.put_index_template(
        name=template_name(settings),
        index_patterns=[f"{settings.articles_alias}-v*"],
        version=schema.SCHEMA_VERSION,
        priority=100,
        template={"settings": schema.INDEX_SETTINGS, "mappings": schema.index_mapping()},
        meta={"description": "DealWatch articles (indexer/schema.py)"},
    )
    index = concrete_index(settings)
    if not es.indices.exists(index=index):
        es.indices.create(index=index, aliases={settings.articles_alias: {"is_write_index": True}})
        log.info("created index %s behind alias %s", index, settings.articles_alias)
    elif not es.indices.exists_alias(name=settings.articles_alias, index=index):
        es.indices.put_alias(index=index, name=settings.articles_alias, is_write_index=True)
    if not es.indices.exists(index=settings.versions_index):
        es.indices.create(index=settings.versions_index,
                          settings={"number_of_shards": 1, "number_of_replicas": 0},
                          mappings=VERSIONS_MAPPING)
    return index


def drop_all(es: Elasticsearch, settings: Settings) -> None:
    """Delete every index and the template of this prefix (tests, `dealwatch reset`)."""
    # destructive actions need concrete names (action.destructive_requires_name): resolve first
    patterns = [f"{settings.articles_alias}-v*", settings.versions_index, settings.runs_index]
    names = list(es.indices.get(index=",".join(patterns), expand_wildcards="all", ignore_unavailable=True,
                                allow_no_indices=True))
    if names:
        es.indices.delete(index=",".join(names))
    es.options(ignore_status=404).indices.delete_index_template(name=template_name(settings))


@dataclass
class WriteResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)        # the first 20 messages, for reports
    failed_ids: set[str] = field(default_factory=set)       # every article id that was not written

    def add(self, other: "WriteResult") -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed += other.failed
        self.failed_ids |= other.failed_ids
        self.errors.extend(other.errors[: max(0, 20 - len(self.errors))])

    def as_dict(self) -> dict[str, int]:
        return {"new": self.new, "updated": self.updated, "unchanged": self.unchanged, "failed": self.failed}


_PREVIOUS_FIELDS = ["content_hash", "version", "crawled_at", "updated_at", "title", "text", "url",
                    "raw_warc", "raw_offset", "raw_length"]


def write_documents(es: Elasticsearch, settings: Settings, docs: Iterable[dict[str, Any]],
                    refresh: bool | str = False) -> WriteResult:
    """Bulk-write documents built by :func:`indexer.schema.article_to_document`.

    Same content hash as stored: unchanged (no write). New id: version 1. Changed text: the
    old text is archived in the versions index, the new document gets version + 1 and keeps
    the first ``crawled_at``.
    """
    result = WriteResult()
    batch: dict[str, dict[str, Any]] = {}
    for doc in docs:
        batch[doc["id"]] = doc  # the last copy of an id in one batch wins
    if not batch:
        return result
    previous: dict[str, dict[str, Any]] = {}
    resp = es.mget(index=settings.articles_alias, ids=list(batch), source_includes=_PREVIOUS_FIELDS)
    for d in resp["docs"]:
        if d.get("found"):
            previous[d["_id"]] = d["_source"]

    actions: list[dict[str, Any]] = []
    for doc_id, doc in batch.items():
        old = previous.get(doc_id)
        if old is None:
            doc["version"] = 1
            actions.append({"_op_type": "index", "_index": settings.articles_alias, "_id": doc_id, "_source": doc})
            result.new += 1
            continue
        if old.get("content_hash") == doc["content_hash"]:
            result.unchanged += 1
            continue
        old_version = int(old.get("version") or 1)
        actions.append({
            "_op_type": "index", "_index": settings.versions_index, "_id": f"{doc_id}-{old_version}",
            "_source": {
                "article_id": doc_id, "version": old_version, "title": old.get("title"), "text": old.get("text"),
                "content_hash": old.get("content_hash"),
                "valid_from": old.get("updated_at") or old.get("crawled_at"),
                "valid_to": doc.get("crawled_at"), "url": old.get("url"),
                "raw_warc": old.get("raw_warc"), "raw_offset": old.get("raw_offset"),
                "raw_length": old.get("raw_length"),
            },
        })
        doc["version"] = old_version + 1
        doc["updated_at"] = doc.get("crawled_at")
        if old.get("crawled_at"):
            doc["crawled_at"] = old["crawled_at"]
        actions.append({"_op_type": "index", "_index": settings.articles_alias, "_id": doc_id, "_source": doc})
        result.updated += 1

    if actions:
        for ok, item in streaming_bulk(es, actions, chunk_size=settings.bulk_chunk_size, max_retries=3,
                                       initial_backoff=1, raise_on_error=False, raise_on_exception=False,
                                       refresh=refresh):
            if not ok:
                op = next(iter(item.values()))
                result.failed += 1
                if op.get("_index") != settings.versions_index:
                    result.failed_ids.add(op.get("_id"))
                if len(result.errors) < 20:
                    result.errors.append(f"{op.get('_id')}: {op.get('error')}")
    if result.failed:
        log.error("%d documents failed to index: %s", result.failed, "; ".join(result.errors[:3]))
    return result


def get_document(es: Elasticsearch, settings: Settings, doc_id: str) -> dict[str, Any] | None:
    try:
        return es.get(index=settings.articles_alias, id=doc_id)["_source"]
    except NotFoundError:
        return None


def get_versions(es: Elasticsearch, settings: Settings, doc_id: str) -> list[dict[str, Any]]:
    """Earlier versions of an article, oldest first.

    Version ids are ``<doc_id>-<n>`` for n below the current version, so they are read with a
    real-time multi-get: an edit is visible at once, without waiting for a refresh.
    """
    current = get_document(es, settings, doc_id)
    latest = int((current or {}).get("version") or 1)
    if latest <= 1 or not es.indices.exists(index=settings.versions_index):
        return []
    resp = es.mget(index=settings.versions_index, ids=[f"{doc_id}-{n}" for n in range(1, latest)])
    return [d["_source"] for d in resp["docs"] if d.get("found")]


def count(es: Elasticsearch, settings: Settings, query: dict | None = None) -> int:
    es.indices.refresh(index=settings.articles_alias)
    return es.count(index=settings.articles_alias, query=query or {"match_all": {}})["count"]
