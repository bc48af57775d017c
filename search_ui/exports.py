"""Exports and feeds of a search: every match as CSV or JSON Lines (streamed), the newest as Atom.

Same parameters as ``/api/search`` (the shared :class:`indexer.query.SearchParams`), validated
before the first byte leaves.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from dealwatch.dates import utcnow
from indexer import export
from indexer.query import DEFAULT_SIZE
from search_ui import feeds
from search_ui.dependencies import ArchiveDep, SearchParamsDep, SettingsDep
from search_ui.pages import search_url

router = APIRouter(tags=["export"])


def _stream(archive, params, fmt: str, bom: bool) -> StreamingResponse:
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    total = archive.count_matching(params)
    if fmt == "csv":
        chunks = export.csv_chunks(archive, params, bom=bom)
        media, ext = "text/csv; charset=utf-8", "csv"
    else:
        chunks = export.jsonl_chunks(archive, params)
        media, ext = "application/x-ndjson; charset=utf-8", "jsonl"
    return StreamingResponse((c.encode("utf-8") for c in chunks), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="dealwatch-{stamp}.{ext}"', "X-Total-Count": str(total)})


@router.get("/export.csv", summary="All matches as CSV (streamed; same parameters as /api/search)")
def export_csv(params: SearchParamsDep, archive: ArchiveDep,
               bom: bool = Query(False, description="true: start with a byte order mark (for Excel)")):
    return _stream(archive, params, "csv", bom)


@router.get("/export.jsonl", summary="All matches as JSON Lines (streamed)")
def export_jsonl(params: SearchParamsDep, archive: ArchiveDep):
    return _stream(archive, params, "jsonl", False)


@router.get("/feed.atom", summary="Atom feed of a search, newest first")
def feed(request: Request, params: SearchParamsDep, archive: ArchiveDep, settings: SettingsDep):
    newest = params.model_copy(update={"sort": "newest", "page": 1, "size": min(50, settings.ui_max_page_size)})
    result = archive.search(newest, facets=False, collapse=False)
    base = str(request.base_url).rstrip("/")
    xml = feeds.atom(result, base=base, self_url=str(request.url),
                     html_url=search_url(newest.model_copy(update={"sort": params.sort, "size": DEFAULT_SIZE})))
    return Response(xml, media_type="application/atom+xml; charset=utf-8")
