"""The web app: server-rendered pages, the JSON API, exports and Atom feeds over the archive.

``create_app(settings)`` wires the pieces: the archive (one per app, with request timeouts bounded
for interactive use), the templates, the edge middleware (``search_ui/edge.py``: hosts, sizes, the token, headers), the error
handlers (``search_ui/errors.py``) and one router per concern: pages (``pages.py``), the JSON API
(``api.py``) and exports and feeds (``exports.py``). All state of a view lives in its URL.
"""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dealwatch.settings import Settings, get_settings
from indexer.archive import Archive
from indexer.query import RelevanceBands
from search_ui import alerts, api, edge, errors, exports, openapi, pages
from search_ui.templating import HERE, make_templates


def _warm_up() -> None:
    """Load the lemma dictionaries before the first search needs them."""
    from indexer.enrich.lemmas import lemma_tokens

    lemma_tokens("warm up banków danych")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    RelevanceBands.from_settings(settings)  # relevance_possible_min not below the threshold: stop here, say why

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        threading.Thread(target=_warm_up, name="warm-up", daemon=True).start()
        yield
        app.state.archive.close()

    app = FastAPI(title="DealWatch", version="0.1.0", docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Search the DealWatch archive of news articles: full text, entities, sources, "
                              "exports. Query syntax: see /help or docs/search.md.")
    app.state.settings = settings
    # bounded for interactive use: a hung node costs one ui_es_timeout, then the 503 page
    app.state.archive = Archive(settings, timeout=settings.ui_es_timeout, retry_on_timeout=False)
    app.state.templates = make_templates()
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    edge.install(app, settings)
    openapi.install(app, token_required=bool(settings.ui_token))
    errors.install(app)
    app.include_router(pages.router)
    app.include_router(alerts.pages)
    app.include_router(exports.router)
    app.include_router(alerts.api)          # before api.router, whose catch-all answers unknown /api/ paths
    app.include_router(api.router)
    return app
