"""Which document answers which path of a demo site, in a given edition.

Role in the data flow: the site map of the demo web. :func:`route` maps one request path to a
:class:`~demo_sites.loopback.Response`: the home page, section pages (paginated), article
pages (with ``Last-Modified``), private pages, the feed, the sitemaps, robots.txt, the
trouble cases, and a 404 page for everything else.
"""

from __future__ import annotations

import re
from email.utils import format_datetime

from demo_sites import trouble
from demo_sites.content import Site
from demo_sites.loopback import Response
from demo_sites.render import (ATOM, HTML, RSS, TEXT, XML, render_article, render_atom, render_home,
                               render_news_sitemap, render_not_found, render_robots, render_rss, render_section,
                               render_sections_sitemap, render_sitemap, render_static)

ARTICLE_PATH = re.compile(r"^/(\d{4})/(\d{2})/([a-z0-9-]+)/?$")
SECTION_PATH = re.compile(r"^/([a-z0-9-]+)/(?:page/(\d+)/)?$")
PRIVATE_PATH = re.compile(r"^/private/([a-z0-9-]+)/?$")


def route(site: Site, path: str, edition: int, slow_seconds: float = 0.0) -> Response:
    """Answer one request path (no query string) of ``site`` as it is in ``edition``."""
    case = trouble.case_at(site, path)
    if case is not None:
        return trouble.answer(site, case, slow_seconds)
    if path == "/":
        return Response(200, HTML, render_home(site, edition).encode())
    if path == "/robots.txt":
        return Response(200, TEXT, render_robots(site).encode())
    if path == "/feed.xml":
        if site.feed_format == "atom":
            return Response(200, ATOM, render_atom(site, edition).encode())
        return Response(200, RSS, render_rss(site, edition).encode())
    if path in site.extra_feeds:
        return Response(200, RSS, trouble.BROKEN_FEED.encode())
    if path == "/sitemap.xml":
        return Response(200, XML, render_sitemap(site, edition).encode())
    if site.sitemap_style == "news-index" and path == "/news-sitemap.xml":
        return Response(200, XML, render_news_sitemap(site, edition).encode())
    if site.sitemap_style == "news-index" and path == "/sections-sitemap.xml":
        return Response(200, XML, render_sections_sitemap(site).encode())
    if path in ("/about/", "/contact/"):
        return Response(200, HTML, render_static(site, path.strip("/")).encode())
    if ARTICLE_PATH.match(path):
        for a in site.articles:
            if a.visible_in(edition) and a.path.rstrip("/") == path.rstrip("/"):
                headers = {"Last-Modified": format_datetime(a.modified(edition), usegmt=True)}
                return Response(200, HTML, render_article(site, a, edition).encode(), headers)
    m = PRIVATE_PATH.match(path)
    if m:
        for p in site.private_pages:
            if p.slug == m.group(1):
                return Response(200, HTML, render_article(site, p, edition).encode())
    m = SECTION_PATH.match(path)
    if m and any(s.slug == m.group(1) for s in site.sections):
        page = render_section(site, m.group(1), int(m.group(2) or 1), edition)
        if page is not None:
            return Response(200, HTML, page.encode())
    return Response(404, HTML, render_not_found(site).encode())
