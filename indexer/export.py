"""Export every match of a search, streamed: point-in-time + search_after, constant memory.

The same :class:`indexer.query.SearchParams` that drive a results page drive the export,
so the CSV from the web page, from ``/api/export.csv`` and from ``dealwatch export`` hold the
same rows, and their number equals the search's total. Rows are produced page by page from a
point in time (a consistent view of the index while it changes), so memory does not grow with
the number of rows and the first bytes leave before the last page is read.

Formats: CSV (UTF-8, optional BOM for Excel, cells that a spreadsheet would run as a formula
neutralised) and JSON Lines. Each row carries its relevance band (relevant / possible / not, by
the settings' score ranges: :mod:`indexer.query.bands`) and the evidence sentences behind its
score, so the possibly relevant articles can be reviewed in a spreadsheet too.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from typing import Any, Iterator

from indexer.archive import Archive
from indexer.query import RelevanceBands, SearchParams

log = logging.getLogger(__name__)

COLUMNS = ("published_at", "title", "source", "url", "lang", "relevance", "relevance_band", "entities", "author",
           "snippet", "cluster_id", "evidence")
EXPORT_SOURCE = ["id", "published_at", "title", "source", "url", "lang", "relevant", "relevance_score",
                 "relevance_evidence", "entity_names", "authors", "description", "cluster_id"]
EVIDENCE_SEPARATOR = " | "       # between the evidence sentences in a CSV cell
PAGE_SIZE = 500                  # hits per search_after page (bounded memory: texts are read)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """A cell that a spreadsheet would read as a formula gets a leading apostrophe (CSV injection)."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _lead(text: str, size: int) -> str:
    text = " ".join(text[: size * 2].split())
    return text if len(text) <= size else text[:size].rsplit(" ", 1)[0] + " …"


def _evidence(src: dict[str, Any]) -> list[str]:
    value = src.get("relevance_evidence") or []
    items = [value] if isinstance(value, str) else value
    return [" ".join(s.split()) for s in items if isinstance(s, str) and s.strip()]


def row_of(hit: dict[str, Any], bands: RelevanceBands, snippet_size: int = 240) -> dict[str, str]:
    """One export row (all values as text) from a hit."""
    src = hit.get("_source", {})
    snippet = src.get("description") or _lead(src.get("text") or "", snippet_size)
    score = src.get("relevance_score")
    return {
        "published_at": src.get("published_at") or "",
        "title": src.get("title") or "",
        "source": src.get("source") or "",
        "url": src.get("url") or "",
        "lang": src.get("lang") or "",
        "relevance": "" if score is None else f"{score:.3f}",
        "relevance_band": bands.band_of(src.get("relevant"), score),
        "entities": "; ".join(src.get("entity_names") or []),
        "author": "; ".join(src.get("authors") or []),
        "snippet": " ".join(snippet.split()),
        "cluster_id": src.get("cluster_id") or "",
        "evidence": EVIDENCE_SEPARATOR.join(_evidence(src)),
    }


def scan(archive: Archive, params: SearchParams, page_size: int = PAGE_SIZE) -> Iterator[dict[str, Any]]:
    """Every matching hit (no collapsing, newest first). The snippet is the summary or the start
    of the text: highlighting every match costs ten times more than reading the text."""
    yield from archive.scan_matching(params, [*EXPORT_SOURCE, "text"], page_size=page_size)


def rows(archive: Archive, params: SearchParams, page_size: int = PAGE_SIZE) -> Iterator[dict[str, str]]:
    bands = RelevanceBands.from_settings(archive.settings)
    for hit in scan(archive, params, page_size=page_size):
        yield row_of(hit, bands)


def csv_chunks(archive: Archive, params: SearchParams, bom: bool = False,
               rows_per_chunk: int = 200, page_size: int = PAGE_SIZE) -> Iterator[str]:
    """The CSV as text chunks: header first (so the first bytes leave at once), then rows."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    if bom:
        buf.write("\ufeff")
    writer.writerow(COLUMNS)
    yield buf.getvalue()
    buf.seek(0)
    buf.truncate()
    n = 0
    for row in rows(archive, params, page_size=page_size):
        writer.writerow([neutralise(row[c]) for c in COLUMNS])
        n += 1
        if n % rows_per_chunk == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue()


def jsonl_chunks(archive: Archive, params: SearchParams,
                 rows_per_chunk: int = 200, page_size: int = PAGE_SIZE) -> Iterator[str]:
    """JSON Lines: one object per article, the CSV's columns plus the article id (lists as lists)."""
    bands = RelevanceBands.from_settings(archive.settings)
    lines: list[str] = []
    for hit in scan(archive, params, page_size=page_size):
        row: dict[str, Any] = {"id": hit.get("_source", {}).get("id") or hit["_id"], **row_of(hit, bands)}
        src = hit.get("_source", {})
        row["relevance"] = src.get("relevance_score")
        row["entities"] = src.get("entity_names") or []
        row["author"] = src.get("authors") or []
        row["evidence"] = _evidence(src)
        lines.append(json.dumps(row, ensure_ascii=False))
        if len(lines) >= rows_per_chunk:
            yield "\n".join(lines) + "\n"
            lines = []
    if lines:
        yield "\n".join(lines) + "\n"
