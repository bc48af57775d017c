"""``dealwatch reenrich``: enrichment again over the stored archive, without crawling.

After the watchlist or the topic changes (or the enrichment code improves), every stored
article is read back (oldest first) through the archive's scan, enriched with
:func:`indexer.enrich.enrich_document`, given a near-duplicate cluster again (trusting only
documents already redone), and its enrichment fields are updated in place. Text, versions and
dates stay as they are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from indexer.archive import Archive
from indexer.enrich import enrich_document
from indexer.schema import FIELD_NAMES

log = logging.getLogger(__name__)

ENRICHMENT_FIELDS = ("title_lemmas", "text_lemmas", "entity_ids", "entity_names", "entity_types", "entities",
                     "other_names", "relevance_score", "relevant", "relevance_evidence", "cluster_id", "lsh_bands",
                     "enriched_at")
_READ_FIELDS = ["title", "text", "description", "lang", "crawled_at", "entity_ids", "relevant", "cluster_id"]
assert set(ENRICHMENT_FIELDS) <= set(FIELD_NAMES)


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


def reenrich(archive: Archive, source: str | None = None, batch_size: int = 200,
             progress: Callable[[int], None] | None = None) -> ReenrichResult:
    """Re-run enrichment over the archive (optionally one source). Returns counts."""
    result = ReenrichResult()
    query: dict[str, Any] = {"term": {"source": source}} if source else {"match_all": {}}
    archive.refresh()
    batch: list[tuple[str, str, dict[str, Any]]] = []
    for hit in archive.scan(_READ_FIELDS, query=query, oldest_first=True, page_size=batch_size):
        batch.append((hit["_index"], hit["_id"], hit["_source"]))
        if len(batch) >= batch_size:
            _process(archive, batch, result)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        _process(archive, batch, result)
        if progress:
            progress(len(batch))
    return result


def _process(archive: Archive, batch: list[tuple[str, str, dict[str, Any]]], result: ReenrichResult) -> None:
    settings = archive.settings
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
    archive.near_duplicates_of(docs, crawled_before=first_crawled)
    updates = []
    for doc in docs:
        old = before[doc["id"]]
        fields = {k: doc[k] for k in ENRICHMENT_FIELDS if k in doc}
        if doc.get("lang") and not old.get("lang"):
            fields["lang"] = doc["lang"]
        result.scanned += 1
        result.relevant += int(doc["relevant"])
        result.relevance_changed += int(bool(old.get("relevant")) != doc["relevant"])
        result.entities_changed += int(sorted(old.get("entity_ids") or []) != sorted(doc["entity_ids"]))
        result.clusters_changed += int(old.get("cluster_id") != doc["cluster_id"])
        updates.append((doc["_index"], doc["id"], fields))
    written = archive.update_fields(updates)
    result.updated += written.updated
    result.failed += written.failed
    result.errors.extend(written.errors[: max(0, 20 - len(result.errors))])
