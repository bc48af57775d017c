"""Enrichment: what makes a crawled article searchable by meaning (plain Python over text).

``enrich_document(doc, settings)`` takes a document built by
:func:`indexer.schema.article_to_document` and returns the schema's enrichment fields:
language (when the document has none), lemmas of title and text, watchlist entities with
their counts and positions, other proper names, topic relevance with its evidence sentences,
and the near-duplicate LSH band keys. It runs in the crawler's worker processes
(:func:`indexer.ingest.prepare`), in ``dealwatch analyze`` and in ``dealwatch reenrich``; the
watchlist and topic are read once per process (and again when their files change).

Modules: :mod:`.document` (the two functions above, loaded on first use), :mod:`.text`
(tokens, sentences), :mod:`.lemmas`, :mod:`.language`, :mod:`.watchlist` + :mod:`.inflection`
+ :mod:`.entities`, :mod:`.topic`, :mod:`.clusters`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["enrich_document", "analyze_text", "Analysis", "LEAD_SENTENCES", "MAX_EVIDENCE", "MAX_EVIDENCE_CHARS"]


def __getattr__(name: str) -> Any:
    """The names of :mod:`indexer.enrich.document`, imported when first asked for (PEP 562)."""
    if name in __all__:
        from indexer.enrich import document
        return getattr(document, name)
    raise AttributeError(f"module 'indexer.enrich' has no attribute {name!r}")
