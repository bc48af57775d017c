"""Export every match of a search, streamed: point-in-time + search_after, constant memory.

The same :class:`indexer.query.SearchParams` that drive a results page drive the export,
so the CSV from the web page, from ``/api/export.csv`` and from ``dealwatch export`` hold the
same rows, and their number equals the search's total. Rows are produced page by page from a
point in time (a consistent view of the index while it changes), so memory does not grow with
the number of rows and the first bytes leave before the last page is read.

Formats: CSV (UTF-8, optional BOM for Excel, cells that a spreadsheet would run as a formula
neutralised) and JSON Lines. The columns are :data:`FIELDS` (the full text, entity ids and names,
``found_via``, domain, word count, version, …); ``fields=`` chooses and orders them
(:func:`choose_fields`), the default is :data:`COLUMNS`, and only the stored fields the chosen
columns need are read. Each row carries its relevance band (relevant / possible / not, by
the settings' score ranges: :mod:`indexer.query.bands`) and the evidence sentences behind its
score, so the possibly relevant articles can be reviewed in a spreadsheet too.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from rapidfuzz import fuzz, process

from dealwatch.dates import stored_date_text
from indexer.errors import BadQuery
from indexer.query import RelevanceBands, SearchParams

if TYPE_CHECKING:  # the CLI reads the field names at start without loading the Elasticsearch client
    from indexer.archive import Archive

log = logging.getLogger(__name__)

EVIDENCE_SEPARATOR = " | "       # between the evidence sentences in a CSV cell
LIST_SEPARATOR = "; "            # between the names, ids, authors of a CSV cell
PAGE_SIZE = 500                  # hits per search_after page (bounded memory: texts are read)
# what starts a formula in a spreadsheet, the full-width forms too (some spreadsheets read them alike)
_FORMULA_START = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_CONTROL_START = ("\t", "\r", "\n")


def neutralise(cell: str) -> str:
    """A cell that a spreadsheet would read as a formula gets a leading apostrophe (CSV injection): one
    that starts with a formula character, a tab or a line break, or has only white space (spaces, no-break
    spaces, line breaks) before a formula character."""
    if cell.startswith(_CONTROL_START) or cell.lstrip().startswith(_FORMULA_START):
        return "'" + cell
    return cell


def _lead(text: str, size: int) -> str:
    text = " ".join(text[: size * 2].split())
    return text if len(text) <= size else text[:size].rsplit(" ", 1)[0] + " …"


def _evidence(src: dict[str, Any]) -> list[str]:
    value = src.get("relevance_evidence") or []
    items = [value] if isinstance(value, str) else value
    return [" ".join(s.split()) for s in items if isinstance(s, str) and s.strip()]


def _strings(value: Any) -> list[str]:
    """A stored keyword field (one value or several) as a list of text."""
    if value is None or value == "":
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    return [i if isinstance(i, str) else json.dumps(i, ensure_ascii=False) for i in items]


@dataclass(frozen=True)
class ExportField:
    """One column of the exports: what it holds, the stored fields it reads, its value in JSON (a CSV cell
    is that value as text: lists joined, numbers as written, nothing as an empty cell)."""
    name: str
    doc: str
    reads: tuple[str, ...]
    value: Callable[[dict[str, Any], RelevanceBands], Any]
    separator: str = LIST_SEPARATOR

    def cell(self, src: dict[str, Any], bands: RelevanceBands) -> str:
        v = self.value(src, bands)
        if v is None:
            return ""
        if isinstance(v, list):
            return self.separator.join(str(i) for i in v)
        if self.name == "relevance":
            return f"{v:.3f}"
        return str(v)


def _text(name: str) -> Callable[[dict[str, Any], RelevanceBands], str]:
    return lambda src, _bands: src.get(name) or ""


def _date(name: str) -> Callable[[dict[str, Any], RelevanceBands], str]:
    """A date column: ISO text (epoch milliseconds another tool stored are written as ISO 8601 too)."""
    return lambda src, _bands: stored_date_text(src.get(name)) or ""


def _snippet(src: dict[str, Any], _bands: RelevanceBands, size: int = 240) -> str:
    return " ".join((src.get("description") or _lead(src.get("text") or "", size)).split())


FIELDS: tuple[ExportField, ...] = (
    # the default columns, in their order
    ExportField("published_at", "publication time, UTC (ISO 8601)", ("published_at",), _date("published_at")),
    ExportField("title", "headline", ("title",), _text("title")),
    ExportField("source", "source name (as in the sources file)", ("source",), _text("source")),
    ExportField("url", "the address the article was fetched from", ("url",), _text("url")),
    ExportField("lang", "language code", ("lang",), _text("lang")),
    ExportField("relevance", "topic score in [0, 1]", ("relevance_score",), lambda s, b: s.get("relevance_score")),
    ExportField("relevance_band", "relevant | possible | not", ("relevant", "relevance_score"),
                lambda s, b: b.band_of(s.get("relevant"), s.get("relevance_score"))),
    ExportField("entities", "names of the watchlist entities mentioned", ("entity_names",),
                lambda s, b: _strings(s.get("entity_names"))),
    ExportField("author", "author names", ("authors",), lambda s, b: _strings(s.get("authors"))),
    ExportField("snippet", "the summary, or the start of the text", ("description", "text"), _snippet),
    ExportField("cluster_id", "near-duplicate cluster (the same story elsewhere)", ("cluster_id",),
                _text("cluster_id")),
    ExportField("evidence", "the sentences behind the topic score", ("relevance_evidence",),
                lambda s, b: _evidence(s), separator=EVIDENCE_SEPARATOR),
    # more, on request (fields=)
    ExportField("id", "the article's id in the archive (/articles/<id>)", ("id",), lambda s, b: s.get("id") or ""),
    ExportField("text", "the full clean text (paragraphs separated by line breaks)", ("text",), _text("text")),
    ExportField("word_count", "words in the text", ("word_count",), lambda s, b: s.get("word_count")),
    ExportField("version", "1 for the first text, +1 at each change", ("version",), lambda s, b: s.get("version")),
    ExportField("domain", "host name of the article's address", ("domain",), _text("domain")),
    ExportField("site_name", "the site's name from the page's metadata", ("site_name",), _text("site_name")),
    ExportField("found_via", "how the article was found (feed, sitemap, import, news search…), where recorded",
                ("found_via",), lambda s, b: _strings(s.get("found_via"))),
    ExportField("entity_ids", "ids of the watchlist entities mentioned (/entities/<id>)", ("entity_ids",),
                lambda s, b: _strings(s.get("entity_ids"))),
    ExportField("entity_types", "types of those entities", ("entity_types",),
                lambda s, b: _strings(s.get("entity_types"))),
    ExportField("canonical_url", "the article's canonical address", ("canonical_url",), _text("canonical_url")),
    ExportField("description", "the summary from the page's metadata", ("description",), _text("description")),
    ExportField("crawled_at", "first archived, UTC", ("crawled_at",), _date("crawled_at")),
    ExportField("updated_at", "last time the text changed, UTC", ("updated_at",), _date("updated_at")),
)
BY_NAME = {f.name: f for f in FIELDS}
COLUMNS = tuple(f.name for f in FIELDS[:12])           # the default columns (CSV; JSON Lines adds the id first)
EXPORT_FIELDS = tuple(BY_NAME)


def choose_fields(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """The columns asked for (``fields=title,text`` or repeated), in that order; the defaults when none.
    An unknown name is a BadQuery that lists the names there are (and the near miss)."""
    items = [value] if isinstance(value, str) else list(value or ())
    names = [n.strip() for item in items for n in str(item).split(",") if n.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        near = process.extractOne(unknown[0], EXPORT_FIELDS, scorer=fuzz.ratio, score_cutoff=70)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise BadQuery(f"Unknown export field{'s' if len(unknown) > 1 else ''} "
                       f"{', '.join(repr(n) for n in unknown)}{hint}: the fields are {', '.join(EXPORT_FIELDS)}.")
    return tuple(dict.fromkeys(names)) or COLUMNS


def reads(fields: Iterable[str]) -> list[str]:
    """The stored fields the columns need (the text only when a column shows it)."""
    return list(dict.fromkeys(["id", *(r for f in fields for r in BY_NAME[f].reads)]))


def row_of(hit: dict[str, Any], bands: RelevanceBands, fields: Iterable[str] = COLUMNS) -> dict[str, str]:
    """One export row (all values as text) from a hit."""
    src = hit.get("_source", {})
    return {name: BY_NAME[name].cell(src, bands) for name in fields}


def scan(archive: Archive, params: SearchParams, page_size: int = PAGE_SIZE,
         fields: Iterable[str] = COLUMNS) -> Iterator[dict[str, Any]]:
    """Every matching hit (no collapsing, newest first) with the stored fields the columns read. The
    snippet is the summary or the start of the text: highlighting every match costs ten times more."""
    yield from archive.scan_matching(params, reads(fields), page_size=page_size)


def rows(archive: Archive, params: SearchParams, page_size: int = PAGE_SIZE,
         fields: Iterable[str] = COLUMNS) -> Iterator[dict[str, str]]:
    bands = RelevanceBands.from_settings(archive.settings)
    fields = tuple(fields)
    for hit in scan(archive, params, page_size=page_size, fields=fields):
        yield row_of(hit, bands, fields)


def csv_chunks(archive: Archive, params: SearchParams, bom: bool = False, fields: Iterable[str] = COLUMNS,
               rows_per_chunk: int = 200, page_size: int = PAGE_SIZE) -> Iterator[str]:
    """The CSV as text chunks: header first (so the first bytes leave at once), then rows."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    if bom:
        buf.write("\ufeff")
    fields = tuple(fields)
    writer.writerow(fields)
    yield buf.getvalue()
    buf.seek(0)
    buf.truncate()
    n = 0
    for row in rows(archive, params, page_size=page_size, fields=fields):
        writer.writerow([neutralise(row[c]) for c in fields])
        n += 1
        if n % rows_per_chunk == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue()


def jsonl_chunks(archive: Archive, params: SearchParams, fields: Iterable[str] | None = None,
                 rows_per_chunk: int = 200, page_size: int = PAGE_SIZE) -> Iterator[str]:
    """JSON Lines: one object per article with the chosen fields in their order (by default the
    article id and the CSV's default columns); lists stay lists, numbers numbers."""
    bands = RelevanceBands.from_settings(archive.settings)
    chosen = tuple(fields) if fields else ("id", *COLUMNS)
    lines: list[str] = []
    for hit in scan(archive, params, page_size=page_size, fields=chosen):
        src = {**hit.get("_source", {})}
        src.setdefault("id", hit["_id"])
        row = {name: BY_NAME[name].value(src, bands) for name in chosen}
        lines.append(json.dumps(row, ensure_ascii=False))
        if len(lines) >= rows_per_chunk:
            yield "\n".join(lines) + "\n"
            lines = []
    if lines:
        yield "\n".join(lines) + "\n"
