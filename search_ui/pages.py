"""The server-rendered pages: search, article (and its raw page), entities, sources, help, API docs.

Each view reads its input (the URL's search parameters), asks the archive, and renders a
template; errors rise to the handlers of ``search_ui/errors.py``. The search page is the one
exception: a malformed query is shown on the page itself, above the form that still holds it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from indexer.errors import BadQuery
from indexer.query import DEFAULT_SIZE, MAX_COMPARE, MAX_RESULT_WINDOW, BeyondResultWindow, SearchParams
from search_ui import render
from search_ui.dependencies import ArchiveDep, BandsDep, SettingsDep, TemplatesDep
from search_ui.errors import NotFound, shown

router = APIRouter(include_in_schema=False)


def search_url(params: SearchParams, path: str = "/", **changes: Any) -> str:
    query = params.to_url(**changes)
    return path + ("?" + urlencode(query) if query else "")


def export_url(params: SearchParams, path: str, keep_compare: bool = False, **extra: str) -> str:
    """The same search on another face (an export, a feed, the chart's data): first page, default size,
    the compared queries only where the chart's series are wanted."""
    changes: dict[str, Any] = {"page": 1, "size": DEFAULT_SIZE}
    if not keep_compare:
        changes["compare"] = ()
    query = params.to_url(**changes) + list(extra.items())
    return path + ("?" + urlencode(query) if query else "")


class FacetLinks:
    """The links of the filter lists: each adds its value to the search, or takes a chosen one off (first page).

    The search's URL parameters are encoded once; a link is then the encoded pieces joined, with its own
    value added or left out, so the links of a page cost what they weigh (each is one URL long), however
    many values are chosen."""

    FACETS = ("entity", "type", "source", "lang", "found_via")

    def __init__(self, params: SearchParams):
        pairs = params.to_url(page=1)
        self._pieces = [(k, v, urlencode([(k, v)])) for k, v in pairs]
        self._chosen = {f: {v for k, v, _ in self._pieces if k == f} for f in self.FACETS}
        # where a new value of each facet goes: after that facet's values, i.e. where to_url writes it
        order = {name: i for i, name in enumerate(("q", "compare", *self.FACETS))}
        self._insert_at = {f: sum(1 for k, _, _ in self._pieces if order.get(k, len(order)) <= order[f])
                           for f in self.FACETS}

    def toggle(self, facet: str, value: str) -> str:
        if value in self._chosen[facet]:
            pieces = [e for k, v, e in self._pieces if not (k == facet and v == value)]
        else:
            at = self._insert_at[facet]
            pieces = [e for _, _, e in self._pieces[:at]] + [urlencode([(facet, value)])] + \
                [e for _, _, e in self._pieces[at:]]
        return "/" + ("?" + "&".join(pieces) if pieces else "")


def toggle_url(params: SearchParams, facet: str, value: str) -> str:
    """One filter link (see :class:`FacetLinks`, which a page uses for all of them)."""
    return FacetLinks(params).toggle(facet, value)


def _as_typed(request: Request) -> SearchParams:
    """What the form should show when the parameters cannot be used: the query text as typed."""
    return SearchParams.model_construct(**{**SearchParams().model_dump(), "q": request.query_params.get("q", "")})


def chart_mode(request: Request) -> str:
    """The chart's view as the URL says it: ``chart=share`` (share of all archived articles) or counts."""
    return "share" if request.query_params.get("chart") == "share" else "count"


def _subject(params: SearchParams) -> str:
    if params.compare:
        return "matching each query"
    return f"matching “{params.q}”" if params.q else "of this search"


def compare_form(params: SearchParams, mode: str) -> dict[str, Any]:
    """The chart's "compare with…" form (the search's parameters kept, one more query added) and the
    links that take each compared query off the chart."""
    keep = [("chart", "share")] if mode == "share" else []

    def without(other: str) -> str:
        query = params.to_url(compare=tuple(c for c in params.compare if c != other), page=1) + keep
        return "/" + ("?" + urlencode(query) if query else "")

    return {
        "hidden": params.to_url(page=1) + keep,
        "remove": [without(other) for other in params.compare],
        "full": len(params.compare) >= MAX_COMPARE, "max": MAX_COMPARE,
    }


@router.get("/", response_class=HTMLResponse)
def search_page(request: Request, archive: ArchiveDep, settings: SettingsDep, templates: TemplatesDep,
                bands: BandsDep):
    status = 200
    error = None
    beyond = None
    try:
        params = SearchParams.from_url(request.query_params.multi_items())
    except BadQuery as exc:
        params, error, status = _as_typed(request), str(exc), 400
    else:
        try:
            params.checked(settings.ui_max_page_size, settings.ui_max_filter_values)
        except BeyondResultWindow as exc:   # a page past the window: say what to do instead
            error, status = str(exc), 400
            beyond = {"last_page": search_url(params, page=exc.last_page), "last": exc.last_page}
        except BadQuery as exc:
            params, error, status = _as_typed(request), str(exc), 400
    mode = chart_mode(request)
    ctx: dict[str, Any] = {"req": params, "error": error, "beyond": beyond, "result": None, "chart": None,
                           "bands": bands, "chart_mode": mode, "chart_subject": _subject(params),
                           "url": lambda **kw: search_url(params, **kw),
                           "toggle": FacetLinks(params).toggle,
                           "export_url": lambda path, **kw: export_url(params, path, **kw),
                           "max_window": MAX_RESULT_WINDOW, "export_fields": export_fields()}
    if error is None:
        result = archive.search(params)
        ctx.update(result=result, archive_total=archive.total(),
                   chart=render.attention_view(archive.attention(params),
                                               export_url(params, "/histogram.csv", keep_compare=True)),
                   compare=compare_form(params, mode))
    return templates.TemplateResponse(request, "search.html", ctx, status_code=status)


def export_fields() -> list[dict[str, Any]]:
    """The export's columns for the column picker: name, what it holds, whether it is a default column."""
    from indexer import export

    return [{"name": f.name, "doc": f.doc, "default": f.name in export.COLUMNS} for f in export.FIELDS]


@router.get("/help", response_class=HTMLResponse)
def help_page(request: Request, templates: TemplatesDep):
    return templates.TemplateResponse(request, "help.html", {})


@router.get("/articles/{doc_id}", response_class=HTMLResponse)
def article_page(request: Request, doc_id: str, archive: ArchiveDep, templates: TemplatesDep, bands: BandsDep):
    doc = archive.article(doc_id)
    if doc is None:
        raise NotFound(f"No article with id {shown(doc_id)} in the archive.")
    ctx = {"doc": doc, "paragraphs": render.text_with_evidence(doc.get("text", ""), doc.get("relevance_evidence")),
           "diffs": render.version_diffs(doc["versions"], doc), "entities": render.entities_of(doc),
           "raw_available": archive.has_raw_page(doc), "evidence": render.evidence_list(doc.get("relevance_evidence")),
           "bands": bands, "band": bands.band_of(doc.get("relevant"), doc.get("relevance_score"))}
    return templates.TemplateResponse(request, "article.html", ctx)


@router.get("/articles/{doc_id}/raw")
def article_raw(doc_id: str, archive: ArchiveDep):
    doc = archive.document(doc_id)
    if doc is None:
        raise NotFound(f"No article with id {shown(doc_id)} in the archive.")
    page = archive.raw_page(doc)
    if page is None:
        raise NotFound("The raw page of this article is not archived.")
    # shown inert: no scripts, no plugins, no requests out of the archived page
    return Response(page.body, media_type=page.content_type or "text/html; charset=utf-8", headers={
        "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                                   "frame-ancestors 'none'",
        "X-Frame-Options": "DENY"})


@router.get("/entities", response_class=HTMLResponse)
def entities_page(request: Request, archive: ArchiveDep, templates: TemplatesDep, prefix: str = ""):
    return templates.TemplateResponse(request, "entities.html",
                                      {"items": archive.entities(prefix=prefix), "prefix": prefix})


@router.get("/entities/{entity_id}", response_class=HTMLResponse)
def entity_page(request: Request, entity_id: str, archive: ArchiveDep, templates: TemplatesDep, bands: BandsDep):
    detail = archive.entity(entity_id)
    if detail is None:
        raise NotFound(f"No entity {shown(entity_id)}: it is neither on the watchlist nor mentioned.")
    # the chart of its mentions, over the period chosen by dragging across it (from/to in the URL)
    dates = {k: v for k, v in request.query_params.multi_items() if k in ("from", "to")}
    params = SearchParams.parse({"entity": entity_id, "relevance": "all", **dates})
    chart = render.attention_view(archive.attention(params), export_url(params, "/histogram.csv"),
                                  label=f"mentions of {detail['name']}")
    return templates.TemplateResponse(request, "entity.html", {
        "e": detail, "chart": chart, "chart_mode": chart_mode(request), "bands": bands, "period": params,
        "chart_subject": f"mentioning {detail['name']}", "search_period": search_url(params)})


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request, archive: ArchiveDep, templates: TemplatesDep):
    return templates.TemplateResponse(request, "sources.html", {"sources": archive.sources_overview(),
                                                                "health": archive.source_health()})


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request, templates: TemplatesDep):
    """The API reference rendered from the OpenAPI document (no external assets: works offline)."""
    spec = request.app.openapi()
    endpoints = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            params = [{"name": p["name"], "where": p["in"], "required": p.get("required", False),
                       "description": p.get("description", ""),
                       "type": (p.get("schema") or {}).get("type", "")} for p in op.get("parameters", [])]
            endpoints.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                              "description": op.get("description", ""), "params": params,
                              "tag": (op.get("tags") or [""])[0]})
    return templates.TemplateResponse(request, "api_docs.html", {"endpoints": endpoints, "spec": spec})


@router.get("/docs/swagger")
def swagger_docs():
    from fastapi.openapi.docs import get_swagger_ui_html
    return get_swagger_ui_html(openapi_url="/openapi.json", title="DealWatch API (Swagger UI)")
