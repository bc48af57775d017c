"""``dealwatch reenrich``: enrichment again over the stored archive, without crawling.

After the watchlist or the topic changes (or the enrichment code improves), every stored
article is read back (oldest first), enriched with :func:`indexer.enrich.enrich_document`,
given a near-duplicate cluster again (:func:`indexer.enrich.clusters.assign_clusters`, trusting
only documents already redone), and its enrichment fields are updated in place with bulk
``update`` actions. Text, versions and dates stay as they are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from elasticsearch import ApiError, Elasticsearch, TransportError
from elasticsearch.helpers import scan, streaming_bulk

from dealwatch.settings import Settings
from indexer.enrich import enrich_document
from indexer.enrich.clusters import assign_clusters
from indexer.schema import FIELD_NAMES

log = logging.getLogger(__name__)

ENRICHMENT_FIELDS = ("title_lemmas", "text_lemmas", "entity_ids", "entity_names", "entity_types", "entities",
                     "other_names", "relevance_score", "relevant", "relevance_evidence", "cluster_id", "lsh_bands",
                     "enriched_at")
_READ_FIELDS = ["title", "text", "description", "lang", "crawled_at", "entity_ids", "relevant", "cluster_id"]


@dataclass
class ReenrichResult:
    scanned: int = 0
    updated: int = 0
    failed: int = 0
    relevant: int = 0
    relevance_changed: int = 0
    entities_changed: int = 0
    clusters_changed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if k != "errors"}


def reenrich(es: Elasticsearch, settings: Settings, source: str | None = None, batch_size: int = 200,
             progress: Callable[[int], None] | None = None) -> ReenrichResult:
    """Re-run enrichment over the archive (optionally one source). Returns counts."""
    result = ReenrichResult()
    query: dict[str, Any] = {"term": {"source": source}} if source else {"match_all": {}}
    es.indices.refresh(index=settings.articles_alias)
    hits = scan(es, index=settings.articles_alias, query={"query": query, "sort": [{"crawled_at": "asc"}]},
                preserve_order=True, size=batch_size, _source_includes=_READ_FIELDS)
    batch: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for hit in hits:
        batch.append((hit["_index"], hit["_id"], hit["_source"]))
        if len(batch) >= batch_size:
            _process(es, settings, batch, result)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        _process(es, settings, batch, result)
        if progress:
            progress(len(batch))
    return result


def _process(es: Elasticsearch, settings: Settings, batch: list, result: ReenrichResult) -> None:
    docs = []
    before: dict[str, dict[str, Any]] = {}
    for index, doc_id, src in batch:
        doc = {"id": doc_id, "title": src.get("title") or "", "text": src.get("text") or "",
               "description": src.get("description") or "", "lang": src.get("lang"),
               "crawled_at": src.get("crawled_at"), "_index": index}
        doc.update(enrich_document(doc, settings))
        docs.append(doc)
        before[doc_id] = src
    first_crawled = min((d["crawled_at"] for d in docs if d.get("crawled_at")), default=None)
    assign_clusters(es, settings, docs, crawled_before=first_crawled)
    actions = []
    for doc in docs:
        old = before[doc["id"]]
        fields = {k: doc[k] for k in ENRICHMENT_FIELDS if k in doc}
        if doc.get("lang") and not old.get("lang"):
            fields["lang"] = doc["lang"]
        assert set(fields) <= set(FIELD_NAMES)
        result.scanned += 1
        result.relevant += int(doc["relevant"])
        result.relevance_changed += int(bool(old.get("relevant")) != doc["relevant"])
        result.entities_changed += int(sorted(old.get("entity_ids") or []) != sorted(doc["entity_ids"]))
        result.clusters_changed += int(old.get("cluster_id") != doc["cluster_id"])
        actions.append({"_op_type": "update", "_index": doc["_index"], "_id": doc["id"], "doc": fields})
    try:
        for ok, item in streaming_bulk(es, actions, chunk_size=settings.bulk_chunk_size, raise_on_error=False,
                                       raise_on_exception=False, max_retries=3, refresh="wait_for"):
            if ok:
                result.updated += 1
            else:
                op = next(iter(item.values()))
                result.failed += 1
                if len(result.errors) < 20:
                    result.errors.append(f"{op.get('_id')}: {op.get('error')}")
    except (ApiError, TransportError) as exc:
        result.failed += len(actions)
        result.errors.append(f"bulk update failed: {exc}")
        log.error("reenrich: bulk update of %d documents failed: %s", len(actions), exc)
