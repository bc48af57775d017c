"""The local news sites: the offline demo web of ``seeds/demo`` and the benchmark's site of real pages.

Role in the data flow: the "web" that the demo crawl, the tests and the throughput benchmark
fetch from, served over real HTTP on loopback addresses. It is not part of the crawler: no
production package imports it (the layer contract in pyproject.toml says so), and it stands
on the ground alone (``dealwatch.settings``, ``dealwatch.dates``, ``dealwatch.processes``).

- :mod:`demo_sites.content`: the demo's sites and articles loaded from ``seeds/demo/sites``,
  the expected truth of the tests, the edition facts.
- :mod:`demo_sites.render`: HTML pages, RSS/Atom feeds, sitemaps and robots.txt of a site.
- :mod:`demo_sites.trouble`: the deliberately bad answers of the trouble site.
- :mod:`demo_sites.routes`: which document answers which path.
- :mod:`demo_sites.loopback`: the HTTP serving every local site shares (one threaded server
  per loopback address, the request log).
- :mod:`demo_sites.server`: :class:`DemoSites`, the demo sites served in background threads.
- :mod:`demo_sites.sources_file`: the demo's sources YAML for the port the sites are served on.
- :mod:`demo_sites.bench_site`: the benchmark's multi-host site over real news pages, served
  in its own process.
- ``python -m demo_sites``: serve the demo sites by hand (:mod:`demo_sites.__main__`).
"""

from demo_sites.content import (EDITION2_NEW_ARTICLES, EDITION2_REVISED_ARTICLES, EDITION2_SITE, Article, Site,
                                TroubleCase, default_demo_dir, expected_articles, load_sites)
from demo_sites.loopback import Request, Response
from demo_sites.routes import ARTICLE_PATH, route
from demo_sites.server import DemoSites
from demo_sites.sources_file import shipped_sources_file, sources_for_port, write_sources_file

__all__ = [
    "ARTICLE_PATH", "EDITION2_NEW_ARTICLES", "EDITION2_REVISED_ARTICLES", "EDITION2_SITE", "Article", "DemoSites",
    "Request", "Response", "Site", "TroubleCase", "default_demo_dir", "expected_articles", "load_sites", "route",
    "shipped_sources_file", "sources_for_port", "write_sources_file",
]
