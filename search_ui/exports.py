"""Exports and feeds of a search: every match as CSV or JSON Lines (streamed), the newest as Atom,
the attention chart's series as CSV.

Same parameters as ``/api/search`` (the shared :class:`indexer.query.SearchParams`), validated
before the first byte leaves; ``fields=`` chooses and orders the columns (an unknown name is a
400 that lists the names there are).
"""

from __future__ import annotations

import csv
import io
import logging
from typing import Iterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from dealwatch.dates import utcnow
from indexer import export
from indexer.query import DEFAULT_SIZE
from search_ui import feeds
from search_ui.dependencies import ArchiveDep, SearchParamsDep, SettingsDep
from search_ui.pages import export_url, search_url

log = logging.getLogger(__name__)


# the media types of the downloads, named once: the answers use them and the OpenAPI document shows them
class CSVResponse(Response):
    media_type = "text/csv; charset=utf-8"


class JSONLinesResponse(Response):
    media_type = "application/x-ndjson; charset=utf-8"


class AtomResponse(Response):
    media_type = "application/atom+xml; charset=utf-8"

router = APIRouter(tags=["export"])


FIELDS_HELP = ("Columns, in order: comma-separated or repeated (default: " + ",".join(export.COLUMNS)
               + "). Available: " + ", ".join(export.EXPORT_FIELDS))


def _stream(archive, params, fmt: str, bom: bool, fields: list[str]) -> StreamingResponse:
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    # everything that can be refused is refused before the first byte: the parameters (checked by the
    # dependency), the columns, and the query itself, which the count runs
    chosen = export.choose_fields(fields) if fields else None
    total = archive.count_matching(params)
    if fmt == "csv":
        chunks = export.csv_chunks(archive, params, bom=bom, fields=chosen or export.COLUMNS)
        media, ext = CSVResponse.media_type, "csv"
    else:
        chunks = export.jsonl_chunks(archive, params, fields=chosen)
        media, ext = JSONLinesResponse.media_type, "jsonl"
    return StreamingResponse(_bytes_or_abort(chunks, f"export.{ext}", total), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="dealwatch-{stamp}.{ext}"', "X-Total-Count": str(total)})


def _bytes_or_abort(chunks: Iterator[str], what: str, total: int) -> Iterator[bytes]:
    """The export's bytes. When the archive fails half-way the exception goes on up, so the server drops
    the connection before the end of the body: the client sees an incomplete transfer (curl exits 18, an
    HTTP library raises), never a file that merely looks complete. It is logged with how far it got."""
    sent = 0
    try:
        for chunk in chunks:
            data = chunk.encode("utf-8")
            sent += len(data)
            yield data
    except Exception as exc:
        log.error("%s of %d articles aborted after %d bytes: %s", what, total, sent, exc)
        raise


@router.get("/export.csv", summary="All matches as CSV (streamed; same parameters as /api/search)",
            response_class=CSVResponse)
def export_csv(params: SearchParamsDep, archive: ArchiveDep,
               bom: bool = Query(False, description="true: start with a byte order mark (for Excel)"),
               fields: list[str] = Query([], description=FIELDS_HELP)):
    return _stream(archive, params, "csv", bom, fields)


@router.get("/export.jsonl", summary="All matches as JSON Lines (streamed)", response_class=JSONLinesResponse)
def export_jsonl(params: SearchParamsDep, archive: ArchiveDep,
                 fields: list[str] = Query([], description=FIELDS_HELP + " (JSON Lines adds the id first by default)")):
    return _stream(archive, params, "jsonl", False, fields)


@router.get("/histogram.csv", summary="The attention chart's series as CSV: matches and share per interval",
            response_class=CSVResponse)
def histogram_csv(params: SearchParamsDep, archive: ArchiveDep):
    """One row per interval: its start and end, all archived articles, then for the search and each
    compared query (``compare=``) its matching articles and their share of the archived ones."""
    att = archive.attention(params)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([export.neutralise(c) for c in att.csv_header()])
    writer.writerows(att.csv_rows())
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    return CSVResponse(buf.getvalue(), headers={
        "Content-Disposition": f'attachment; filename="dealwatch-attention-{stamp}.csv"'})


@router.get("/feed.atom", summary="Atom feed of a search, newest first", response_class=AtomResponse)
def feed(request: Request, params: SearchParamsDep, archive: ArchiveDep, settings: SettingsDep):
    newest = params.model_copy(update={"sort": "newest", "page": 1, "size": min(50, settings.ui_max_page_size)})
    result = archive.search(newest, facets=False, collapse=False)
    base = str(request.base_url).rstrip("/")     # the Host was checked at the edge (ui_allowed_hosts)
    xml = feeds.atom(result, base=base, self_url=base + export_url(params, "/feed.atom"),   # never the token
                     html_url=search_url(newest.model_copy(update={"sort": params.sort, "size": DEFAULT_SIZE})))
    return AtomResponse(xml)
