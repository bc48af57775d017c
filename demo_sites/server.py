"""The demo sites served over real HTTP: :class:`DemoSites`, in background threads of the caller.

Role in the data flow: the "web" the demo crawl and the tests fetch from. Every site of
``seeds/demo/sites`` gets its own loopback address (127.0.0.2, 127.0.0.3, …), all on one port
(``Settings.demo_port``, 8080 by default), through :mod:`demo_sites.loopback`; the search web
(:mod:`demo_sites.search_web`: a news-search engine on 127.0.0.20 and its publishers on
127.0.0.21–127.0.0.25) is served beside them on the same port, for the demo's search source. The object
holds what a test changes or reads while the sites run: the edition (1 or 2), the delay of
the slow trouble page, an optional delay of every article page, and the request log.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dealwatch.settings import get_settings
from demo_sites import sources_file
from demo_sites.content import Article, Site, default_demo_dir, expected_articles, load_sites
from demo_sites.loopback import LoopbackServers, Request, RequestLog, Response
from demo_sites.routes import ARTICLE_PATH, route
from demo_sites.search_web import SearchWeb

log = logging.getLogger(__name__)

EDITIONS = (1, 2)


class DemoSites:
    """All demo sites served in background threads; one HTTP server per site host address.

    >>> with DemoSites(port=free_port) as demo:
    ...     demo.set_edition(2)
    ...     demo.requests   # [(host, path, status), ...]

    ``slow_seconds`` is how long the slow trouble page waits; ``article_delay`` (seconds, 0 by
    default) slows every article page, for tests that stop a crawl in the middle.
    """

    def __init__(self, demo_dir: Path | None = None, port: int | None = None,
                 host_map: dict[str, str] | None = None, edition: int = 1,
                 request_log: Path | None = None, slow_seconds: float = 30.0, article_delay: float = 0.0,
                 search_web: bool = True):
        self.demo_dir = Path(demo_dir) if demo_dir else default_demo_dir()
        self.port = port if port is not None else get_settings().demo_port
        self.sites = load_sites(self.demo_dir, self.port, host_map)
        self.set_edition(edition)
        self.slow_seconds = slow_seconds
        self.article_delay = article_delay
        self.log = RequestLog(request_log)
        self._by_host = {s.host: s for s in self.sites}
        self._servers = LoopbackServers({s.host: s.name for s in self.sites}, self.port, self._respond, self.log)
        self.search_web = SearchWeb(self.port) if search_web else None

    # -- lifecycle
    def start(self) -> "DemoSites":
        self._servers.start()
        if self.search_web is not None:
            try:
                self.search_web.start()
            except OSError:
                self._servers.stop()
                raise
        log.info("demo sites serving on port %d: %s", self.port, ", ".join(s.base_url for s in self.sites))
        return self

    def stop(self) -> None:
        if self.search_web is not None:
            self.search_web.stop()
        self._servers.stop()

    def __enter__(self) -> "DemoSites":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _respond(self, host: str, path: str) -> Response:
        if self.article_delay and ARTICLE_PATH.match(path):
            time.sleep(self.article_delay)
        return route(self._by_host[host], path, self.edition, self.slow_seconds)

    # -- state
    def set_edition(self, edition: int) -> None:
        if edition not in EDITIONS:
            raise ValueError(f"demo edition must be 1 or 2, not {edition}")
        self.edition = edition

    @property
    def requests(self) -> list[Request]:
        """A copy of every request served so far: (host, path, status)."""
        return self.log.requests

    def article_requests(self) -> list[Request]:
        """The requests for article pages (``/yyyy/mm/slug/``, with or without slash or query)."""
        return [r for r in self.requests if ARTICLE_PATH.match(urlsplit(r.path).path)]

    def clear_requests(self) -> None:
        self.log.clear()

    # -- lookups
    def site(self, name: str) -> Site:
        for s in self.sites:
            if s.name == name:
                return s
        raise KeyError(f"no demo site named {name!r}; known: {[s.name for s in self.sites]}")

    def base_url(self, site_name: str) -> str:
        return self.site(site_name).base_url

    def expected_articles(self, edition: int | None = None, include_trouble_goods: bool = True) -> list[Article]:
        return expected_articles(self.edition if edition is None else edition, include_trouble_goods, sites=self.sites)

    def sources(self) -> list[dict[str, Any]]:
        """The demo's sources (``seeds/demo/sources.yaml``) with every URL on this port."""
        return sources_file.sources_for_port(self.port, self.demo_dir)

    def write_sources_file(self, path: Path) -> Path:
        return sources_file.write_sources_file(path, self.port, self.demo_dir)
