"""The narrow door from the crawler into the indexer.

``prepare(article)`` is pure Python (enrichment over text) and runs wherever the CPU is:
in the crawler's extraction worker processes or in ``reenrich``. ``write(docs)`` assigns
near-duplicate clusters and bulk-writes the documents (idempotent, versioned) through
:mod:`indexer.store`. The crawler calls these two and nothing else of the indexer.
"""

from __future__ import annotations

from typing import Any, Iterable

from elasticsearch import Elasticsearch

from dealwatch.settings import Settings
from indexer import schema, store


def prepare(article: schema.Article, settings: Settings) -> dict[str, Any]:
    """Article -> enriched document (no I/O besides reading the seeds once per process)."""
    doc = schema.article_to_document(article)
    try:
        from indexer.enrich import enrich_document
    except ImportError:  # enrichment not installed in this build
        return doc
    doc.update(enrich_document(doc, settings))
    return doc


def write(es: Elasticsearch, settings: Settings, docs: Iterable[dict[str, Any]],
          refresh: bool | str = False) -> store.WriteResult:
    """Cluster near-duplicates, then bulk-write. Returns counts new/updated/unchanged/failed."""
    docs = list(docs)
    try:
        from indexer.enrich.clusters import assign_clusters
    except ImportError:
        pass
    else:
        assign_clusters(es, settings, docs)
    return store.write_documents(es, settings, docs, refresh=refresh)
