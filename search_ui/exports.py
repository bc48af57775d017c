"""Exports and feeds of a search: every match as CSV or JSON Lines (streamed), the newest as Atom,
the attention chart's series as CSV.

Same parameters as ``/api/search`` (the shared :class:`indexer.query.SearchParams`), validated
before the first byte leaves; ``fields=`` chooses and orders the columns (an unknown name is a
400 that lists the names there are).
"""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from dealwatch.dates import utcnow
from indexer import export
from indexer.query import DEFAULT_SIZE
from search_ui import feeds
from search_ui.dependencies import ArchiveDep, SearchParamsDep, SettingsDep
from search_ui.pages import search_url

router = APIRouter(tags=["export"])


FIELDS_HELP = ("Columns, in order: comma-separated or repeated (default: " + ",".join(export.COLUMNS)
               + "). Available: " + ", ".join(export.EXPORT_FIELDS))


def _stream(archive, params, fmt: str, bom: bool, fields: list[str]) -> StreamingResponse:
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    chosen = export.choose_fields(fields) if fields else None      # a BadQuery (400) before any byte
    total = archive.count_matching(params)
    if fmt == "csv":
        chunks = export.csv_chunks(archive, params, bom=bom, fields=chosen or export.COLUMNS)
        media, ext = "text/csv; charset=utf-8", "csv"
    else:
        chunks = export.jsonl_chunks(archive, params, fields=chosen)
        media, ext = "application/x-ndjson; charset=utf-8", "jsonl"
    return StreamingResponse((c.encode("utf-8") for c in chunks), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="dealwatch-{stamp}.{ext}"', "X-Total-Count": str(total)})


@router.get("/export.csv", summary="All matches as CSV (streamed; same parameters as /api/search)")
def export_csv(params: SearchParamsDep, archive: ArchiveDep,
               bom: bool = Query(False, description="true: start with a byte order mark (for Excel)"),
               fields: list[str] = Query([], description=FIELDS_HELP)):
    return _stream(archive, params, "csv", bom, fields)


@router.get("/export.jsonl", summary="All matches as JSON Lines (streamed)")
def export_jsonl(params: SearchParamsDep, archive: ArchiveDep,
                 fields: list[str] = Query([], description=FIELDS_HELP + " (JSON Lines adds the id first by default)")):
    return _stream(archive, params, "jsonl", False, fields)


@router.get("/histogram.csv", summary="The attention chart's series as CSV: matches and share per interval")
def histogram_csv(params: SearchParamsDep, archive: ArchiveDep):
    """One row per interval: its start and end, all archived articles, then for the search and each
    compared query (``compare=``) its matching articles and their share of the archived ones."""
    att = archive.attention(params)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([export.neutralise(c) for c in att.csv_header()])
    writer.writerows(att.csv_rows())
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="dealwatch-attention-{stamp}.csv"'})


@router.get("/feed.atom", summary="Atom feed of a search, newest first")
def feed(request: Request, params: SearchParamsDep, archive: ArchiveDep, settings: SettingsDep):
    newest = params.model_copy(update={"sort": "newest", "page": 1, "size": min(50, settings.ui_max_page_size)})
    result = archive.search(newest, facets=False, collapse=False)
    base = str(request.base_url).rstrip("/")
    xml = feeds.atom(result, base=base, self_url=str(request.url),
                     html_url=search_url(newest.model_copy(update={"sort": params.sort, "size": DEFAULT_SIZE})))
    return Response(xml, media_type="application/atom+xml; charset=utf-8")
