"""The web app: server-rendered pages, the JSON API, exports and Atom feeds over indexer.query.

``create_app(settings)`` builds a FastAPI application. Every view parses the URL into an
:class:`indexer.query.SearchRequest` (all state lives in the URL), asks :mod:`indexer.query`
or :mod:`indexer.export`, and renders the answer with Jinja2 (autoescaping on). Errors are
answered at this edge: a malformed query is a 400 with a message (an HTML page or
``{"error": {"message": ...}}``), an unreachable Elasticsearch a 503, never a stack trace.

Optional protection: with ``ui_token`` set, every request needs ``Authorization: Bearer
<token>``, HTTP basic auth with the token as password, or ``?token=<token>`` once (a cookie
remembers it).
"""

from __future__ import annotations

import base64
import hmac
import logging
import threading
import time
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from elastic_transport import ConnectionError as ESConnectionError
from elasticsearch import ApiError
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from dealwatch.settings import Settings, get_settings
from indexer import export, query
from indexer.client import cached_client
from search_ui import feeds, raw, render

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TOKEN_COOKIE = "dealwatch_token"


class AppError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path.endswith((".json", ".jsonl"))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        # the lemma dictionaries take seconds to load: load them before the first search needs them
        threading.Thread(target=query.warm_up, name="warm-up", daemon=True).start()
        yield

    app = FastAPI(title="DealWatch", version="0.1.0", docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Search the DealWatch archive of news articles: full text, entities, sources, "
                              "exports. Query syntax: see /help or docs/search.md.")
    app.state.settings = settings
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.autoescape = True
    env.filters["date"] = render.fmt_date
    env.filters["datetime"] = lambda v: render.fmt_date(v, with_time=True)
    env.filters["hl"] = render.highlight_html
    env.filters["safe_url"] = render.safe_url
    env.globals["render_ms"] = lambda request: f"{(time.perf_counter() - request.state.started) * 1000:.0f}"
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def es():
        return cached_client(settings)

    # --- edges: auth, timing, errors ----------------------------------------------------
    @app.middleware("http")
    async def timing_and_auth(request: Request, call_next):
        request.state.started = time.perf_counter()
        if settings.ui_token and not request.url.path.startswith("/static/"):
            given = _token_of(request)
            if not given or not hmac.compare_digest(given, settings.ui_token):
                if _wants_json(request):
                    resp: Response = JSONResponse({"error": {"message": "authentication required: send "
                                                             "'Authorization: Bearer <token>'"}}, status_code=401)
                else:
                    resp = HTMLResponse("<h1>Authentication required</h1><p>Open this page with ?token=… or "
                                        "log in with the token as password.</p>", status_code=401)
                resp.headers["WWW-Authenticate"] = 'Basic realm="DealWatch"'
                return resp
        response = await call_next(request)
        elapsed = (time.perf_counter() - request.state.started) * 1000
        response.headers["X-Render-Time"] = f"{elapsed:.1f}ms"
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if settings.ui_token and request.query_params.get("token") == settings.ui_token:
            response.set_cookie(TOKEN_COOKIE, settings.ui_token, httponly=True, samesite="strict")
        if not isinstance(response, StreamingResponse) or not request.url.path.startswith(("/export", "/api/export")):
            log.info("%s %s %s %.1fms", request.method, request.url.path, response.status_code, elapsed)
        return response

    def error_response(request: Request, status: int, message: str) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)
        return templates.TemplateResponse(request, "error.html", {"status": status, "message": message},
                                          status_code=status)

    @app.exception_handler(AppError)
    async def on_app_error(request: Request, exc: AppError):
        return error_response(request, exc.status, exc.message)

    @app.exception_handler(query.QueryError)
    async def on_query_error(request: Request, exc: query.QueryError):
        return error_response(request, 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError):
        msgs = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}" for e in exc.errors())
        return error_response(request, 400, msgs or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = f"Nothing here: {request.url.path}"
        return error_response(request, exc.status_code, message)

    @app.exception_handler(ESConnectionError)
    async def on_es_down(request: Request, exc: ESConnectionError):
        log.error("Elasticsearch unreachable: %s", exc)
        return error_response(request, 503, f"The search index is not reachable at {settings.effective_es_url}. "
                                            "Start it with `dealwatch es start` (or check DEALWATCH_ES_URL).")

    @app.exception_handler(ApiError)
    async def on_es_error(request: Request, exc: ApiError):
        if getattr(exc, "status_code", None) == 404 or "index_not_found" in str(exc):
            return error_response(request, 503, "The archive has no articles index yet: crawl something first "
                                                "(`dealwatch demo` or `dealwatch crawl`).")
        log.exception("Elasticsearch error")
        return error_response(request, 502, f"The search index answered with an error: {exc.message}")

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return error_response(request, 500, "Something went wrong on our side; the error has been logged.")

    # --- helpers ----------------------------------------------------------------------
    def parse_request(request: Request) -> query.SearchRequest:
        req = query.request_from_params(request.query_params.multi_items())
        return req.validated(settings)

    def url_for_search(req: query.SearchRequest, path: str = "/", **changes: Any) -> str:
        params = req.to_params(**changes)
        return path + ("?" + urlencode(params) if params else "")

    def export_url(req: query.SearchRequest, path: str, **extra: str) -> str:
        params = req.to_params(page=1, size=query.SearchRequest.size) + list(extra.items())
        return path + ("?" + urlencode(params) if params else "")

    def toggle(req: query.SearchRequest, facet: str, value: str) -> str:
        attr = {"entity": "entities", "type": "entity_types", "source": "sources", "lang": "langs"}[facet]
        current = getattr(req, attr)
        new = tuple(v for v in current if v != value) if value in current else (*current, value)
        return url_for_search(req, **{attr: new, "page": 1})

    # --- pages ------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def search_page(request: Request):
        raw_req = query.request_from_params(request.query_params.multi_items())
        ctx: dict[str, Any] = {"req": raw_req, "error": None, "result": None, "chart": None,
                               "url": lambda **kw: url_for_search(raw_req, **kw),
                               "toggle": lambda f, v: toggle(raw_req, f, v),
                               "export_url": lambda path, **kw: export_url(raw_req, path, **kw),
                               "max_window": query.MAX_RESULT_WINDOW}
        status = 200
        try:
            req = raw_req.validated(settings)
            result = query.search(es(), settings, req)
            interval, buckets = query.histogram(es(), settings, req)
            ctx.update(result=result, chart=render.chart_svg(buckets, interval), interval=interval,
                       archive_total=query.archive_total(es(), settings))
        except query.QueryError as exc:
            ctx["error"] = str(exc)
            status = 400
        return templates.TemplateResponse(request, "search.html", ctx, status_code=status)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs(request: Request):
        """The API reference rendered from the OpenAPI document (no external assets: works offline)."""
        spec = app.openapi()
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

    @app.get("/docs/swagger", include_in_schema=False)
    def swagger_docs():
        from fastapi.openapi.docs import get_swagger_ui_html
        return get_swagger_ui_html(openapi_url="/openapi.json", title="DealWatch API (Swagger UI)")

    @app.get("/help", response_class=HTMLResponse, include_in_schema=False)
    def help_page(request: Request):
        return templates.TemplateResponse(request, "help.html", {})

    @app.get("/articles/{doc_id}", response_class=HTMLResponse, include_in_schema=False)
    def article_page(request: Request, doc_id: str):
        doc = query.get_article(es(), settings, doc_id)
        if doc is None:
            raise AppError(404, f"No article with id {doc_id!r} in the archive.")
        ctx = {"doc": doc, "paragraphs": render.text_with_evidence(doc.get("text", ""), doc.get("relevance_evidence")),
               "diffs": render.version_diffs(doc["versions"], doc), "entities": query.entities_of(doc),
               "raw_available": raw.available(settings, doc), "evidence": render.evidence_list(
                   doc.get("relevance_evidence"))}
        return templates.TemplateResponse(request, "article.html", ctx)

    @app.get("/articles/{doc_id}/raw", include_in_schema=False)
    def article_raw(doc_id: str):
        doc = query.get_article(es(), settings, doc_id)
        if doc is None:
            raise AppError(404, f"No article with id {doc_id!r} in the archive.")
        record = raw.read_record(settings, doc)
        if record is None:
            raise AppError(404, "The raw page of this article is not archived.")
        body, content_type = record
        # shown inert: no scripts, no plugins, no requests out of the archived page
        return Response(body, media_type=content_type, headers={
            "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:",
            "X-Frame-Options": "SAMEORIGIN"})

    @app.get("/entities", response_class=HTMLResponse, include_in_schema=False)
    def entities_page(request: Request, prefix: str = ""):
        items = query.entity_list(es(), settings, prefix=prefix)
        return templates.TemplateResponse(request, "entities.html", {"items": items, "prefix": prefix})

    @app.get("/entities/{entity_id}", response_class=HTMLResponse, include_in_schema=False)
    def entity_page(request: Request, entity_id: str):
        detail = query.entity_detail(es(), settings, entity_id)
        if detail is None:
            raise AppError(404, f"No entity {entity_id!r}: it is neither on the watchlist nor mentioned.")
        chart = render.chart_svg(detail["over_time"], detail["interval"])
        return templates.TemplateResponse(request, "entity.html", {"e": detail, "chart": chart})

    @app.get("/sources", response_class=HTMLResponse, include_in_schema=False)
    def sources_page(request: Request):
        return templates.TemplateResponse(request, "sources.html",
                                          {"sources": query.sources_overview(es(), settings)})

    # --- exports and feeds ------------------------------------------------------------
    def export_response(request: Request, fmt: str) -> StreamingResponse:
        req = query.request_from_params(request.query_params.multi_items())
        query.parse_query(req.q)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        if fmt == "csv":
            bom = request.query_params.get("bom", "") in ("1", "true", "yes")
            chunks = export.csv_chunks(es(), settings, req, bom=bom)
            media, ext = "text/csv; charset=utf-8", "csv"
        else:
            chunks = export.jsonl_chunks(es(), settings, req)
            media, ext = "application/x-ndjson; charset=utf-8", "jsonl"
        total = query.count(es(), settings, req)
        return StreamingResponse((c.encode("utf-8") for c in chunks), media_type=media, headers={
            "Content-Disposition": f'attachment; filename="dealwatch-{stamp}.{ext}"', "X-Total-Count": str(total)})

    @app.get("/export.csv", tags=["export"], summary="All matches as CSV (streamed; same parameters as /api/search)")
    def export_csv(request: Request):
        return export_response(request, "csv")

    @app.get("/export.jsonl", tags=["export"], summary="All matches as JSON Lines (streamed)")
    def export_jsonl(request: Request):
        return export_response(request, "jsonl")

    @app.get("/feed.atom", tags=["export"], summary="Atom feed of a search, newest first")
    def feed(request: Request):
        req = query.request_from_params(request.query_params.multi_items())
        req = query.replace(req, sort="newest", page=1, size=min(50, settings.ui_max_page_size)).validated(settings)
        result = query.search(es(), settings, req, facets=False, collapse=False)
        base = str(request.base_url).rstrip("/")
        xml = feeds.atom(result, base=base, self_url=str(request.url),
                         html_url=url_for_search(query.replace(req, sort="", size=query.SearchRequest.size)))
        return Response(xml, media_type="application/atom+xml; charset=utf-8")

    # --- JSON API ---------------------------------------------------------------------
    @app.get("/api/search", tags=["api"], summary="Search articles")
    def api_search(request: Request,
                   q: str = Query("", description="Query text (syntax: docs/search.md)"),
                   entity: list[str] = Query([], description="Entity id; repeat: all must be mentioned"),
                   type: list[str] = Query([], description="Entity type; repeat: any of"),
                   source: list[str] = Query([], description="Source; repeat: any of"),
                   lang: list[str] = Query([], description="Language; repeat: any of"),
                   from_: str = Query("", alias="from", description="Published on or after, YYYY-MM-DD"),
                   to: str = Query("", description="Published on or before, YYYY-MM-DD"),
                   relevant: str = Query("1", description="1: relevant articles only (default); 0: all"),
                   sort: str = Query("", description="relevance | newest (default: relevance with a query)"),
                   page: str = Query("1"), size: str = Query("20", description="Hits per page (bounded)"),
                   histogram: str = Query("0", description="1: add hits over time")):
        req = parse_request(request)
        result = query.search(es(), settings, req)
        body = result.as_dict()
        if histogram in ("1", "true"):
            interval, buckets = query.histogram(es(), settings, req)
            body["histogram"] = {"interval": interval, "buckets": [
                {"start": b.start.isoformat(), "count": b.count, "total": b.total, "share": round(b.share, 4)}
                for b in buckets]}
        base = url_for_search(req, "", page=1, size=query.SearchRequest.size)
        body["links"] = {"csv": "/export.csv" + base, "jsonl": "/export.jsonl" + base, "atom": "/feed.atom" + base,
                         "html": "/" + base}
        return body

    @app.get("/api/articles/{doc_id}", tags=["api"], summary="One article with versions and cluster copies")
    def api_article(doc_id: str):
        doc = query.get_article(es(), settings, doc_id)
        if doc is None:
            raise AppError(404, f"No article with id {doc_id!r} in the archive.")
        for k in ("title_lemmas", "text_lemmas", "lsh_bands"):
            doc.pop(k, None)
        doc["raw_available"] = raw.available(settings, doc)
        return doc

    @app.get("/api/entities", tags=["api"], summary="Entities with article counts; prefix for type-ahead")
    def api_entities(prefix: str = Query("", max_length=100), limit: str = Query("50")):
        try:
            n = int(limit)
        except ValueError:
            raise AppError(400, f"limit must be a whole number (got {limit!r}).") from None
        if not 1 <= n <= 1000:
            raise AppError(400, "limit must be between 1 and 1000.")
        return {"entities": query.entity_list(es(), settings, prefix=prefix, limit=n)}

    @app.get("/api/entities/{entity_id}", tags=["api"], summary="One entity: mentions over time, co-mentions")
    def api_entity(entity_id: str):
        d = query.entity_detail(es(), settings, entity_id)
        if d is None:
            raise AppError(404, f"No entity {entity_id!r}: it is neither on the watchlist nor mentioned.")
        d["over_time"] = [{"start": b.start.isoformat(), "count": b.count, "total": b.total} for b in d["over_time"]]
        d["latest"] = [h.as_dict() for h in d["latest"]]
        return d

    @app.get("/api/sources", tags=["api"], summary="Sources: articles archived, last runs, next run")
    def api_sources():
        out = []
        for s in query.sources_overview(es(), settings):
            s = dict(s)
            s["runs"] = [_run_dict(r) for r in s["runs"]]
            for k in ("newest_article", "last_crawled", "next_run_at"):
                s[k] = s[k].isoformat() if s[k] else None
            out.append(s)
        return {"sources": out}

    @app.get("/api/{rest:path}", include_in_schema=False)
    def api_unknown(rest: str):
        raise AppError(404, f"No API endpoint /api/{rest}; see /docs.")

    return app


def _run_dict(r: Any) -> dict[str, Any]:
    keys = ("run_id", "status", "trigger", "started_at", "ended_at", "duration_s", "pages_fetched", "articles",
            "errors", "errors_total", "last_error", "next_run_at")
    out = {}
    for k in keys:
        v = getattr(r, k, None)
        out[k] = v.isoformat() if isinstance(v, datetime) else v
    return out


def _token_of(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if auth.lower().startswith("basic "):
        try:
            user_pass = base64.b64decode(auth[6:]).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return ""
        return user_pass.partition(":")[2]
    return request.query_params.get("token") or request.cookies.get(TOKEN_COOKIE, "")
