"""From an extracted article to the document the archive stores: schema fields + enrichment.

:func:`enriched_document` is plain Python over text (no Elasticsearch) and runs wherever the CPU
is: in the crawler's extraction worker processes, in ``dealwatch reextract`` and in the
benchmarks. Writing the documents is the archive's job (:meth:`indexer.archive.Archive.write`).
"""

from __future__ import annotations

from typing import Any

from dealwatch.settings import Settings
from indexer import schema
from indexer.enrich import enrich_document


def enriched_document(article: schema.Article, settings: Settings) -> dict[str, Any]:
    """Article -> enriched document (no I/O besides reading the seeds once per process)."""
    doc = schema.article_to_document(article)
    doc.update(enrich_document(doc, settings))
    return doc
