"""The offline demo news sites: loads ``seeds/demo/sites/*`` and serves them over real HTTP.

Role in the data flow: this is the "web" the demo crawl and the tests fetch from. Each site
in ``seeds/demo/sites/<dir>/`` (a ``site.yaml`` plus ``articles/*.md`` with YAML front
matter) is served by its own standard-library HTTP server on its own loopback address
(127.0.0.2, 127.0.0.3, ...), all on one port (``Settings.demo_port``, 8080 by default).

The same loaded data is the expected truth for tests: :func:`load_sites` and
:func:`expected_articles` say which articles exist, with which URL, title, date and language.

Editions model a site that changes between crawls: edition 1 is the default world; from
edition 2 on, the articles marked ``edition: 2`` appear and articles with a ``revised`` body
show that body instead (see :data:`EDITION2_NEW_ARTICLES`, :data:`EDITION2_REVISED_ARTICLES`).

Usage by hand: ``python -m demo_sites.content --port 8080 --edition 1``.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable, NamedTuple
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as xml_escape

import yaml

from dealwatch.settings import get_settings

log = logging.getLogger(__name__)

DEFAULT_PORT = 8080  # the port written in seeds/demo/sources.yaml
SECTION_PAGE_SIZE = 10
HOME_PAGE_SIZE = 12
ARTICLE_PATH = re.compile(r"^/(\d{4})/(\d{2})/([a-z0-9-]+)/?$")
SECTION_PATH = re.compile(r"^/([a-z0-9-]+)/(?:page/(\d+)/)?$")
PRIVATE_PATH = re.compile(r"^/private/([a-z0-9-]+)/?$")

# The incremental-crawl facts of the bundled demo (checked by tests/test_demo_sites.py).
EDITION2_SITE = "baltic-ledger"
EDITION2_NEW_ARTICLES = 5
EDITION2_REVISED_ARTICLES = 1


# --------------------------------------------------------------------------- data model
@dataclass(frozen=True)
class Section:
    slug: str
    title: str


@dataclass(frozen=True)
class Article:
    site: str               # the site's (and source's) name, e.g. "baltic-ledger"
    slug: str
    url: str                # absolute canonical URL, e.g. http://127.0.0.2:8080/2024/05/slug/
    path: str               # /2024/05/slug/
    title: str
    published: datetime     # tz-aware UTC
    lang: str
    author: str
    section: str
    edition: int            # first edition the article appears in
    body: tuple[str, ...]   # paragraphs (edition 1 text)
    revised: tuple[str, ...] | None = None   # paragraphs shown from edition 2 on
    revised_at: datetime | None = None       # when the revision was published (UTC)
    hostile: bool = False   # body quotes HTML/JS payloads as text (trouble site)
    private: bool = False   # lives under /private/, disallowed by robots.txt

    def visible_in(self, edition: int) -> bool:
        return self.edition <= edition

    def paragraphs(self, edition: int) -> tuple[str, ...]:
        return self.revised if (self.revised and edition >= 2) else self.body

    def modified(self, edition: int) -> datetime:
        if self.revised and edition >= 2 and self.revised_at:
            return self.revised_at
        return self.published

    def text(self, edition: int = 1) -> str:
        return "\n\n".join(self.paragraphs(edition))

    def word_count(self, edition: int = 1) -> int:
        return len(self.text(edition).split())


@dataclass(frozen=True)
class TroubleCase:
    """A deliberately bad URL on the trouble site and what the server answers there."""
    kind: str               # not_found | server_error | redirect_loop | binary | empty | oversized | slow
    path: str
    title: str
    expected: str           # what a crawler should report, in words


@dataclass
class Site:
    name: str
    title: str
    host: str
    port: int
    language: str
    tagline: str
    sections: list[Section]
    feed_format: str = "rss"            # rss | atom
    sitemap_style: str = "plain"        # plain | news-index
    crawl_delay: float | None = None
    trouble: bool = False
    directory: Path | None = None
    articles: list[Article] = field(default_factory=list)
    private_pages: list[Article] = field(default_factory=list)
    trouble_cases: list[TroubleCase] = field(default_factory=list)
    extra_feeds: list[str] = field(default_factory=list)   # e.g. the broken feed's path

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    @property
    def feed_urls(self) -> list[str]:
        return [self.url("/feed.xml")] + [self.url(p) for p in self.extra_feeds]

    @property
    def sitemap_url(self) -> str:
        return self.url("/sitemap.xml")

    def visible_articles(self, edition: int) -> list[Article]:
        """Articles of an edition, newest first."""
        return sorted((a for a in self.articles if a.visible_in(edition)), key=lambda a: a.published, reverse=True)

    def section_title(self, slug: str) -> str:
        return next((s.title for s in self.sections if s.slug == slug), slug)


# --------------------------------------------------------------------------- loading
def default_demo_dir() -> Path:
    return get_settings().seeds_dir / "demo"


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        dt = value
    else:
        dt = datetime.fromisoformat(str(value).strip())
    if dt.tzinfo is None:
        raise ValueError(f"date {value!r} has no timezone")
    return dt.astimezone(timezone.utc)


def _paragraphs(text: str) -> tuple[str, ...]:
    parts = re.split(r"\n\s*\n", text.strip())
    return tuple(" ".join(p.split()) for p in parts if p.strip())


def _read_markdown(path: Path) -> tuple[dict[str, Any], str]:
    raw = path.read_text(encoding="utf-8")
    match = re.match(r"^---\s*\n(.*?)\n---\s*\n(.*)$", raw, re.S)
    if not match:
        raise ValueError(f"{path}: missing YAML front matter between '---' lines")
    meta = yaml.safe_load(match.group(1)) or {}
    return meta, match.group(2)


def _load_article(site: Site, path: Path, private: bool = False) -> Article:
    meta, body = _read_markdown(path)
    try:
        published = _parse_time(meta["date"])
        slug = path.stem
        url_path = f"/private/{slug}/" if private else f"/{published:%Y}/{published:%m}/{slug}/"
        revised = meta.get("revised")
        return Article(
            site=site.name,
            slug=slug,
            url=site.url(url_path),
            path=url_path,
            title=str(meta["title"]).strip(),
            published=published,
            lang=str(meta.get("lang", site.language)),
            author=str(meta["author"]),
            section=str(meta["section"]),
            edition=int(meta.get("edition", 1)),
            body=_paragraphs(body),
            revised=_paragraphs(revised) if revised else None,
            revised_at=_parse_time(meta["revised_date"]) if meta.get("revised_date") else None,
            hostile=bool(meta.get("hostile", False)),
            private=private,
        )
    except KeyError as exc:
        raise ValueError(f"{path}: front matter lacks {exc.args[0]!r}") from exc


def load_site(directory: Path, port: int = DEFAULT_PORT, host: str | None = None) -> Site:
    meta = yaml.safe_load((directory / "site.yaml").read_text(encoding="utf-8"))
    site = Site(
        name=meta["name"],
        title=meta["title"],
        host=host or meta["host"],
        port=port,
        language=meta["language"],
        tagline=meta.get("tagline", ""),
        sections=[Section(s["slug"], s["title"]) for s in meta["sections"]],
        feed_format=meta.get("feed_format", "rss"),
        sitemap_style=meta.get("sitemap_style", "plain"),
        crawl_delay=meta.get("crawl_delay"),
        trouble=bool(meta.get("trouble", False)),
        directory=directory,
        extra_feeds=list(meta.get("extra_feeds", [])),
        trouble_cases=[TroubleCase(**c) for c in meta.get("trouble_cases", [])],
    )
    site.articles = sorted((_load_article(site, p) for p in (directory / "articles").glob("*.md")),
                           key=lambda a: a.published)
    private_dir = directory / "private"
    if private_dir.is_dir():
        site.private_pages = [_load_article(site, p, private=True) for p in sorted(private_dir.glob("*.md"))]
    known = {s.slug for s in site.sections}
    for a in site.articles + site.private_pages:
        if a.section not in known:
            raise ValueError(f"{site.name}: article {a.slug} names unknown section {a.section!r}")
    return site


def load_sites(demo_dir: Path | None = None, port: int = DEFAULT_PORT,
               host_map: dict[str, str] | None = None) -> list[Site]:
    """Every demo site with its articles; URLs use ``port`` and the (optionally remapped) host."""
    demo_dir = Path(demo_dir) if demo_dir else default_demo_dir()
    host_map = host_map or {}
    sites = []
    for directory in sorted((demo_dir / "sites").iterdir()):
        if (directory / "site.yaml").is_file():
            name = yaml.safe_load((directory / "site.yaml").read_text(encoding="utf-8"))["name"]
            sites.append(load_site(directory, port, host_map.get(name)))
    hosts = [s.host for s in sites]
    if len(set(hosts)) != len(hosts):
        raise ValueError(f"two demo sites share one host address: {hosts}")
    return sites


def expected_articles(edition: int = 1, include_trouble_goods: bool = True, demo_dir: Path | None = None,
                      port: int = DEFAULT_PORT, sites: list[Site] | None = None) -> list[Article]:
    """The articles a complete crawl of the demo must archive, each exactly once."""
    sites = sites if sites is not None else load_sites(demo_dir, port)
    return [a for s in sites if include_trouble_goods or not s.trouble for a in s.visible_articles(edition)]


# --------------------------------------------------------------------------- sources.yaml
def demo_sources_config(port: int = DEFAULT_PORT, demo_dir: Path | None = None) -> dict[str, Any]:
    """``seeds/demo/sources.yaml`` with every loopback URL moved to ``port``."""
    demo_dir = Path(demo_dir) if demo_dir else default_demo_dir()
    text = (demo_dir / "sources.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(http://127(?:\.\d{1,3}){3}):%d\b" % DEFAULT_PORT, rf"\g<1>:{port}", text)
    return yaml.safe_load(text)


def sources_for_port(port: int, demo_dir: Path | None = None) -> list[dict[str, Any]]:
    return demo_sources_config(port, demo_dir)["sources"]


def write_sources_file(path: Path, port: int, demo_dir: Path | None = None) -> Path:
    """Write a sources.yaml for demo sites served on ``port`` (for tests on a free port)."""
    path = Path(path)
    path.write_text(yaml.safe_dump(demo_sources_config(port, demo_dir), sort_keys=False, allow_unicode=True),
                    encoding="utf-8")
    return path


# --------------------------------------------------------------------------- rendering
def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


COOKIE_TEXT = {
    "en": "We use cookies to remember your preferences and measure readership. By continuing you accept our cookie policy.",
    "pl": "Używamy plików cookie, aby zapamiętać Twoje ustawienia i mierzyć czytelnictwo. Korzystając z serwisu, akceptujesz politykę cookies.",
}
NEWSLETTER_TEXT = {
    "en": ("Morning briefing", "The day's business and technology news in your inbox before 7 a.m.", "Sign up"),
    "pl": ("Poranny przegląd", "Najważniejsze wiadomości gospodarcze w Twojej skrzynce przed siódmą.", "Zapisz się"),
}
LABELS = {
    "en": {"home": "Home", "related": "Related articles", "latest": "Latest news", "by": "By",
           "more": "More in", "next": "Older articles", "prev": "Newer articles", "about": "About us",
           "contact": "Contact", "rights": "All rights reserved.", "preview": "Subscriber preview",
           "updated": "Updated", "page": "Page", "notfound": "Page not found"},
    "pl": {"home": "Strona główna", "related": "Czytaj także", "latest": "Najnowsze", "by": "Autor:",
           "more": "Więcej w dziale", "next": "Starsze artykuły", "prev": "Nowsze artykuły", "about": "O nas",
           "contact": "Kontakt", "rights": "Wszelkie prawa zastrzeżone.", "preview": "Zapowiedź dla prenumeratorów",
           "updated": "Aktualizacja", "page": "Strona", "notfound": "Nie znaleziono strony"},
}
TRACKING_SUFFIXES = ["?utm_source=newsletter&utm_medium=email", "?fbclid=IwAR0demo4xYz", "?utm_campaign=morning&utm_source=rss"]


def _labels(site: Site) -> dict[str, str]:
    return LABELS.get(site.language, LABELS["en"])


def _page(site: Site, title: str, main: str, head_extra: str = "", lang: str | None = None) -> str:
    L = _labels(site)
    nav = "".join(f'<li><a href="/{s.slug}/">{_e(s.title)}</a></li>' for s in site.sections)
    news_title, news_text, news_button = NEWSLETTER_TEXT.get(site.language, NEWSLETTER_TEXT["en"])
    trouble_head, trouble_body = "", ""
    if site.trouble:
        # Real scripts, event handlers and a javascript: link in the surrounding markup (not in the
        # article text): a crawler must drop them, a UI must never show them live.
        trouble_head = '<script>window.nightWire = {tracking: true}; document.title = document.title;</script>'
        trouble_body = ('<div class="share-bar"><a href="javascript:window.print()" onclick="return false;">Print</a>'
                        '<img src="/static/pixel.gif" alt="" width="1" height="1" onerror="this.style.display=\'none\'">'
                        '<script>document.querySelectorAll(".share-bar a").length;</script></div>')
    return f"""<!DOCTYPE html>
<html lang="{_e(lang or site.language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} | {_e(site.title)}</title>
<meta property="og:site_name" content="{_e(site.title)}">
{head_extra}
<link rel="alternate" type="application/{'atom' if site.feed_format == 'atom' else 'rss'}+xml" href="/feed.xml" title="{_e(site.title)}">
<style>body{{font-family:Georgia,serif;max-width:62rem;margin:auto}} nav ul{{display:flex;gap:1rem;list-style:none}} .cookie{{background:#eee;padding:.5rem}}</style>
{trouble_head}
</head>
<body>
<div class="cookie-banner cookie" id="cookie-banner"><p>{_e(COOKIE_TEXT.get(site.language, COOKIE_TEXT['en']))}</p><button type="button">OK</button></div>
<header class="masthead">
<a class="logo" href="/">{_e(site.title)}</a>
<p class="tagline">{_e(site.tagline)}</p>
<nav class="main-nav" aria-label="sections"><ul><li><a href="/">{_e(L['home'])}</a></li>{nav}</ul></nav>
</header>
{trouble_body}
{main}
<aside class="newsletter"><h2>{_e(news_title)}</h2><p>{_e(news_text)}</p><form action="/newsletter/" method="post"><input type="email" name="email"><button>{_e(news_button)}</button></form></aside>
<footer class="site-footer">
<ul><li><a href="/about/">{_e(L['about'])}</a></li><li><a href="/contact/">{_e(L['contact'])}</a></li><li><a href="/feed.xml">RSS</a></li></ul>
<p>&copy; {_e(site.title)}. {_e(L['rights'])}</p>
</footer>
</body>
</html>
"""


def _teaser(site: Site, a: Article, edition: int, link_suffix: str = "") -> str:
    first = a.paragraphs(edition)[0]
    words = first.split()
    summary = " ".join(words[:28]) + (" …" if len(words) > 28 else "")
    return (f'<li class="teaser"><a href="{_e(a.path + link_suffix)}">{_e(a.title)}</a> '
            f'<time datetime="{_iso(a.published)}">{a.published:%Y-%m-%d}</time>'
            f'<p class="summary">{_e(summary)}</p></li>')


def render_home(site: Site, edition: int) -> str:
    L = _labels(site)
    articles = site.visible_articles(edition)
    items = []
    for i, a in enumerate(articles[:HOME_PAGE_SIZE]):
        # Some internal links carry tracking parameters (canonicalisation must strip them).
        suffix = TRACKING_SUFFIXES[i // 3 % len(TRACKING_SUFFIXES)] if i % 3 == 1 else ""
        items.append(_teaser(site, a, edition, suffix))
    sections = "".join(f'<li><a href="/{s.slug}/">{_e(L["more"])} {_e(s.title)}</a></li>' for s in site.sections)
    private = "".join(f'<li><a href="{_e(p.path)}">{_e(L["preview"])}: {_e(p.title)}</a></li>'
                      for p in site.private_pages)
    # The oldest article is linked from the home page without its trailing slash (and with it from
    # its section page and the feeds): one article under two URLs.
    archive = ""
    if articles:
        oldest = articles[-1]
        archive = (f'<aside class="from-the-archive"><a href="{_e(oldest.path.rstrip("/"))}">'
                   f'{_e(oldest.title)}</a></aside>')
    main = (f'<main><h1>{_e(L["latest"])}</h1><ul class="latest">{"".join(items)}</ul>'
            f'{archive}<ul class="section-links">{sections}</ul>'
            f'<aside class="subscribers"><ul>{private}</ul></aside></main>')
    return _page(site, L["home"], main, head_extra=f'<link rel="canonical" href="{site.base_url}">')


def section_pages(site: Site, slug: str, edition: int) -> list[list[Article]]:
    articles = [a for a in site.visible_articles(edition) if a.section == slug]
    return [articles[i:i + SECTION_PAGE_SIZE] for i in range(0, len(articles), SECTION_PAGE_SIZE)] or [[]]


def render_section(site: Site, slug: str, page: int, edition: int) -> str | None:
    pages = section_pages(site, slug, edition)
    if page < 1 or page > len(pages):
        return None
    L = _labels(site)
    items = "".join(_teaser(site, a, edition) for a in pages[page - 1])
    pager = []
    if page > 1:
        prev = f"/{slug}/" if page == 2 else f"/{slug}/page/{page - 1}/"
        pager.append(f'<a rel="prev" href="{prev}">{_e(L["prev"])}</a>')
    if page < len(pages):
        pager.append(f'<a rel="next" href="/{slug}/page/{page + 1}/">{_e(L["next"])}</a>')
    title = site.section_title(slug) + (f" — {L['page']} {page}" if page > 1 else "")
    canonical = site.url(f"/{slug}/" if page == 1 else f"/{slug}/page/{page}/")
    main = (f'<main><h1>{_e(title)}</h1><ul class="section-list">{items}</ul>'
            f'<nav class="pager">{" ".join(pager)}</nav></main>')
    return _page(site, title, main, head_extra=f'<link rel="canonical" href="{canonical}">')


def render_article(site: Site, a: Article, edition: int) -> str:
    L = _labels(site)
    modified = a.modified(edition)
    head = "\n".join([
        f'<link rel="canonical" href="{_e(a.url)}">',
        f'<meta property="og:type" content="article">',
        f'<meta property="og:url" content="{_e(a.url)}">',
        f'<meta property="og:title" content="{_e(a.title)}">',
        f'<meta property="article:published_time" content="{_iso(a.published)}">',
        f'<meta property="article:modified_time" content="{_iso(modified)}">',
        f'<meta property="article:section" content="{_e(site.section_title(a.section))}">',
        f'<meta name="author" content="{_e(a.author)}">',
        f'<meta name="description" content="{_e(" ".join(a.paragraphs(edition)[0].split()[:30]))}">',
    ])
    paragraphs = "\n".join(f"<p>{_e(p)}</p>" for p in a.paragraphs(edition))
    updated = ""
    if modified != a.published:
        updated = f' · {_e(L["updated"])} <time class="updated" datetime="{_iso(modified)}">{modified:%Y-%m-%d %H:%M}</time>'
    related = _related(site, a, edition)
    handler_attr = ' onmouseover="window.nightWire && (window.nightWire.seen = true)"' if site.trouble else ""
    main = f"""<main>
<nav class="breadcrumb"><a href="/">{_e(L['home'])}</a> › <a href="/{a.section}/">{_e(site.section_title(a.section))}</a></nav>
<article class="story"{handler_attr}>
<h1 class="headline">{_e(a.title)}</h1>
<p class="byline">{_e(L['by'])} <span class="author">{_e(a.author)}</span> · <time datetime="{_iso(a.published)}" class="published">{a.published:%Y-%m-%d %H:%M} UTC</time>{updated}</p>
<div class="story-body">
{paragraphs}
</div>
</article>
<aside class="related"><h2>{_e(L['related'])}</h2><ul>{related}</ul></aside>
</main>"""
    return _page(site, a.title, main, head_extra=head, lang=a.lang)


def _related(site: Site, a: Article, edition: int) -> str:
    others = [o for o in site.visible_articles(edition) if o.slug != a.slug]
    same = [o for o in others if o.section == a.section][:3]
    picks = same + [o for o in others if o not in same][: 4 - len(same)]
    links = []
    for i, o in enumerate(picks):
        suffix = "?utm_source=related&utm_medium=web" if i == 1 else ""
        links.append(f'<li><a href="{_e(o.path + suffix)}">{_e(o.title)}</a></li>')
    if site.private_pages and a is site.visible_articles(edition)[0]:
        p = site.private_pages[0]
        links.append(f'<li><a href="{_e(p.path)}">{_e(p.title)}</a></li>')
    return "".join(links)


def render_static(site: Site, kind: str) -> str:
    L = _labels(site)
    text = {
        "about": f"{site.title} — {site.tagline}. This is an offline demonstration site of the DealWatch project; "
                 "every story on it was written for the demo and describes invented reporting.",
        "contact": "Newsroom: newsroom@example.invalid. Corrections: corrections@example.invalid.",
    }[kind]
    return _page(site, L[kind], f"<main><h1>{_e(L[kind])}</h1><p>{_e(text)}</p></main>")


def render_not_found(site: Site) -> str:
    L = _labels(site)
    return _page(site, L["notfound"], f'<main><h1>{_e(L["notfound"])}</h1><p>404</p><p><a href="/">{_e(L["home"])}</a></p></main>')


def render_rss(site: Site, edition: int) -> str:
    items = []
    for a in site.visible_articles(edition):
        items.append(f"""<item>
<title>{xml_escape(a.title)}</title>
<link>{xml_escape(a.url)}</link>
<guid isPermaLink="true">{xml_escape(a.url)}</guid>
<pubDate>{format_datetime(a.published)}</pubDate>
<atom:updated>{_iso(a.modified(edition))}</atom:updated>
<dc:creator>{xml_escape(a.author)}</dc:creator>
<category>{xml_escape(site.section_title(a.section))}</category>
<description>{xml_escape(" ".join(a.paragraphs(edition)[0].split()[:40]))}</description>
</item>""")
    for case in site.trouble_cases:
        if case.kind == "slow":
            continue  # linked nowhere by default: a crawl would wait for its timeout every time
        items.append(f"""<item>
<title>{xml_escape(case.title)}</title>
<link>{xml_escape(site.url(case.path))}</link>
<guid isPermaLink="true">{xml_escape(site.url(case.path))}</guid>
<pubDate>{format_datetime(datetime(2025, 3, 10, 8, 0, tzinfo=timezone.utc))}</pubDate>
</item>""")
    latest = max((a.modified(edition) for a in site.visible_articles(edition)), default=datetime(2018, 1, 1, tzinfo=timezone.utc))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
<title>{xml_escape(site.title)}</title>
<link>{xml_escape(site.base_url)}</link>
<description>{xml_escape(site.tagline)}</description>
<language>{site.language}</language>
<lastBuildDate>{format_datetime(latest)}</lastBuildDate>
<atom:link href="{xml_escape(site.url('/feed.xml'))}" rel="self" type="application/rss+xml"/>
{chr(10).join(items)}
</channel>
</rss>
"""


def render_atom(site: Site, edition: int) -> str:
    entries = []
    for a in site.visible_articles(edition):
        entries.append(f"""<entry>
<title>{xml_escape(a.title)}</title>
<link rel="alternate" type="text/html" href="{xml_escape(a.url)}"/>
<id>{xml_escape(a.url)}</id>
<published>{_iso(a.published)}</published>
<updated>{_iso(a.modified(edition))}</updated>
<author><name>{xml_escape(a.author)}</name></author>
<category term="{xml_escape(a.section)}" label="{xml_escape(site.section_title(a.section))}"/>
<summary>{xml_escape(" ".join(a.paragraphs(edition)[0].split()[:40]))}</summary>
</entry>""")
    latest = max((a.modified(edition) for a in site.visible_articles(edition)), default=datetime(2018, 1, 1, tzinfo=timezone.utc))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{site.language}">
<title>{xml_escape(site.title)}</title>
<subtitle>{xml_escape(site.tagline)}</subtitle>
<link rel="alternate" type="text/html" href="{xml_escape(site.base_url)}"/>
<link rel="self" type="application/atom+xml" href="{xml_escape(site.url('/feed.xml'))}"/>
<id>{xml_escape(site.base_url)}</id>
<updated>{_iso(latest)}</updated>
{chr(10).join(entries)}
</feed>
"""


def render_sitemap(site: Site, edition: int) -> str:
    if site.sitemap_style == "news-index":
        latest = max(a.modified(edition) for a in site.visible_articles(edition))
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{xml_escape(site.url('/news-sitemap.xml'))}</loc><lastmod>{_iso(latest)}</lastmod></sitemap>
<sitemap><loc>{xml_escape(site.url('/sections-sitemap.xml'))}</loc><lastmod>{_iso(latest)}</lastmod></sitemap>
</sitemapindex>
"""
    urls = [f"<url><loc>{xml_escape(a.url)}</loc><lastmod>{_iso(a.modified(edition))}</lastmod></url>"
            for a in site.visible_articles(edition)]
    urls += [f"<url><loc>{xml_escape(site.url(c.path))}</loc><lastmod>2025-03-10T08:00:00Z</lastmod></url>"
             for c in site.trouble_cases if c.kind != "slow"]
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            + "\n".join(urls) + "\n</urlset>\n")


def render_news_sitemap(site: Site, edition: int) -> str:
    urls = []
    for a in site.visible_articles(edition):
        urls.append(f"""<url>
<loc>{xml_escape(a.url)}</loc>
<lastmod>{_iso(a.modified(edition))}</lastmod>
<news:news>
<news:publication><news:name>{xml_escape(site.title)}</news:name><news:language>{a.lang}</news:language></news:publication>
<news:publication_date>{_iso(a.published)}</news:publication_date>
<news:title>{xml_escape(a.title)}</news:title>
</news:news>
</url>""")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n' + "\n".join(urls) + "\n</urlset>\n")


def render_sections_sitemap(site: Site) -> str:
    urls = [f"<url><loc>{xml_escape(site.base_url)}</loc><changefreq>hourly</changefreq></url>"]
    urls += [f"<url><loc>{xml_escape(site.url(f'/{s.slug}/'))}</loc><changefreq>hourly</changefreq></url>" for s in site.sections]
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            + "\n".join(urls) + "\n</urlset>\n")


def render_robots(site: Site) -> str:
    lines = ["User-agent: *", "Disallow: /private/", "Disallow: /newsletter/"]
    if site.crawl_delay:
        lines.append(f"Crawl-delay: {site.crawl_delay:g}")
    lines += ["", f"Sitemap: {site.sitemap_url}", ""]
    return "\n".join(lines)


BROKEN_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Night Wire — late edition
<item><title>Unclosed & unescaped <b>item</title><link>http://example.invalid/</link>
<item><title>Another</item></channel>
"""

# A tiny but real PDF document (the "annual report" of the trouble site).
PDF_BYTES = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
             b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
EMPTY_PAGE = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title></title></head><body></body></html>\n"
OVERSIZED_BYTES = 6 * 1024 * 1024 + 512 * 1024   # over the crawler's 5 MB default limit


def _oversized_page() -> bytes:
    head = b'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Complete transcript of the marathon hearing</title></head><body><article><h1>Complete transcript of the marathon hearing</h1>'
    line = b"<p>The committee heard another hour of testimony about card fees, interchange and the settlement of payments between banks.</p>\n"
    body = line * (OVERSIZED_BYTES // len(line) + 1)
    return head + body + b"</article></body></html>\n"


# --------------------------------------------------------------------------- HTTP
class Request(NamedTuple):
    host: str
    path: str        # the request target as sent, query string included
    status: int


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], site: Site, owner: "DemoSites"):
        self.site = site
        self.owner = owner
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _SiteServer
    server_version = "DemoNews/1.0"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s %s", self.server.site.host, format % args)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        owner, site = self.server.owner, self.server.site
        status, ctype, body, headers = route(site, urlsplit(self.path).path, owner.edition, owner.slow_seconds)
        if status == 200 and _not_modified(self.headers.get("If-Modified-Since"), headers.get("Last-Modified")):
            status, body = 304, b""   # conditional GET: the article has not changed since then
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        owner._record(Request(site.host, self.path, status), self.headers.get("User-Agent", ""))
        if not head:
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                log.debug("client closed %s%s early", site.host, self.path)


def _not_modified(if_modified_since: str | None, last_modified: str | None) -> bool:
    if not if_modified_since or not last_modified:
        return False
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # an unparsable date means "send the page", as RFC 9110 says


HTML = "text/html; charset=utf-8"
XML = "application/xml; charset=utf-8"


def route(site: Site, path: str, edition: int, slow_seconds: float = 0.0) -> tuple[int, str, bytes, dict[str, str]]:
    """Answer one request path: (status, content type, body, extra headers)."""
    for case in site.trouble_cases:
        if path == case.path or path.rstrip("/") == case.path.rstrip("/"):
            return _trouble(site, case, slow_seconds)
    if path == "/":
        return 200, HTML, render_home(site, edition).encode(), {}
    if path == "/robots.txt":
        return 200, "text/plain; charset=utf-8", render_robots(site).encode(), {}
    if path == "/feed.xml":
        if site.feed_format == "atom":
            return 200, "application/atom+xml; charset=utf-8", render_atom(site, edition).encode(), {}
        return 200, "application/rss+xml; charset=utf-8", render_rss(site, edition).encode(), {}
    if path in site.extra_feeds:
        return 200, "application/rss+xml; charset=utf-8", BROKEN_FEED.encode(), {}
    if path == "/sitemap.xml":
        return 200, XML, render_sitemap(site, edition).encode(), {}
    if site.sitemap_style == "news-index" and path == "/news-sitemap.xml":
        return 200, XML, render_news_sitemap(site, edition).encode(), {}
    if site.sitemap_style == "news-index" and path == "/sections-sitemap.xml":
        return 200, XML, render_sections_sitemap(site).encode(), {}
    if path in ("/about/", "/contact/"):
        return 200, HTML, render_static(site, path.strip("/")).encode(), {}
    m = ARTICLE_PATH.match(path)
    if m:
        for a in site.articles:
            if a.visible_in(edition) and a.path.rstrip("/") == path.rstrip("/"):
                headers = {"Last-Modified": format_datetime(a.modified(edition), usegmt=True)}
                return 200, HTML, render_article(site, a, edition).encode(), headers
    m = PRIVATE_PATH.match(path)
    if m:
        for p in site.private_pages:
            if p.slug == m.group(1):
                return 200, HTML, render_article(site, p, edition).encode(), {}
    m = SECTION_PATH.match(path)
    if m and any(s.slug == m.group(1) for s in site.sections):
        page = render_section(site, m.group(1), int(m.group(2) or 1), edition)
        if page is not None:
            return 200, HTML, page.encode(), {}
    return 404, HTML, render_not_found(site).encode(), {}


_oversized_cache: list[bytes] = []


def _trouble(site: Site, case: TroubleCase, slow_seconds: float) -> tuple[int, str, bytes, dict[str, str]]:
    kind = case.kind
    if kind == "not_found":
        return 404, HTML, render_not_found(site).encode(), {}
    if kind == "server_error":
        return 500, HTML, b"<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1><p>The story database did not answer.</p></body></html>", {}
    if kind == "redirect_loop":
        # Every case of this kind redirects to the next one of its kind: A -> B -> A.
        loop = [c for c in site.trouble_cases if c.kind == "redirect_loop"]
        target = loop[(loop.index(case) + 1) % len(loop)]
        return 302, HTML, b"", {"Location": site.url(target.path)}
    if kind == "binary":
        return 200, "application/pdf", PDF_BYTES, {}
    if kind == "empty":
        return 200, HTML, EMPTY_PAGE.encode(), {}
    if kind == "oversized":
        if not _oversized_cache:
            _oversized_cache.append(_oversized_page())
        return 200, HTML, _oversized_cache[0], {}
    if kind == "slow":
        time.sleep(slow_seconds)
        return 200, HTML, render_not_found(site).encode(), {}
    raise ValueError(f"unknown trouble case kind {kind!r} in {site.name}/site.yaml")


class DemoSites:
    """All demo sites served in background threads; one HTTP server per site host address.

    >>> with DemoSites(port=free_port) as demo:
    ...     demo.set_edition(2)
    ...     demo.requests   # [(host, path, status), ...]
    """

    def __init__(self, demo_dir: Path | None = None, port: int | None = None,
                 host_map: dict[str, str] | None = None, edition: int = 1,
                 request_log: Path | None = None, slow_seconds: float = 30.0):
        self.demo_dir = Path(demo_dir) if demo_dir else default_demo_dir()
        self.port = port if port is not None else get_settings().demo_port
        self.sites = load_sites(self.demo_dir, self.port, host_map)
        self.edition = edition
        self.slow_seconds = slow_seconds
        self.request_log = Path(request_log) if request_log else None
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._servers: list[_SiteServer] = []
        self._threads: list[threading.Thread] = []

    # -- lifecycle
    def start(self) -> "DemoSites":
        try:
            for site in self.sites:
                server = _SiteServer((site.host, self.port), site, self)
                thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                          name=f"demo-{site.name}", daemon=True)
                thread.start()
                self._servers.append(server)
                self._threads.append(thread)
        except OSError as exc:
            self.stop()
            raise OSError(f"cannot serve demo site {site.name} on {site.host}:{self.port}: {exc} "
                          f"(is another demo server running? choose another port)") from exc
        log.info("demo sites serving on port %d: %s", self.port, ", ".join(s.base_url for s in self.sites))
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> "DemoSites":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state
    def set_edition(self, edition: int) -> None:
        if edition not in (1, 2):
            raise ValueError(f"demo edition must be 1 or 2, not {edition}")
        self.edition = edition

    def _record(self, request: Request, user_agent: str) -> None:
        with self._lock:
            self._requests.append(request)
            if self.request_log:
                with self.request_log.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"time": _iso(datetime.now(timezone.utc)), "host": request.host,
                                         "path": request.path, "status": request.status,
                                         "user_agent": user_agent}) + "\n")

    @property
    def requests(self) -> list[Request]:
        """A copy of every request served so far: (host, path, status)."""
        with self._lock:
            return list(self._requests)

    def article_requests(self) -> list[Request]:
        """The requests for article pages (``/yyyy/mm/slug/``, with or without slash or query)."""
        return [r for r in self.requests if ARTICLE_PATH.match(urlsplit(r.path).path)]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

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
        return sources_for_port(self.port, self.demo_dir)

    def write_sources_file(self, path: Path) -> Path:
        return write_sources_file(path, self.port, self.demo_dir)


# --------------------------------------------------------------------------- CLI
def serve_forever(port: int | None = None, edition: int = 1, demo_dir: Path | None = None,
                  request_log: Path | None = None, stop: threading.Event | None = None) -> None:
    """Serve the demo sites until SIGINT/SIGTERM (or ``stop`` is set)."""
    stop = stop or threading.Event()
    demo = DemoSites(demo_dir, port=port, edition=edition, request_log=request_log).start()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    try:
        for s in demo.sites:
            print(f"{s.name:22} {s.base_url}  ({len(s.visible_articles(edition))} articles, edition {edition})", flush=True)
        stop.wait()
    finally:
        demo.stop()


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo_sites.content", description="Serve the offline demo news sites.")
    parser.add_argument("--port", type=int, default=None, help="port for every site (default: Settings.demo_port, 8080)")
    parser.add_argument("--edition", type=int, choices=(1, 2), default=1, help="2 adds new articles and one edited article")
    parser.add_argument("--demo-dir", type=Path, default=None, help="directory holding sites/ and sources.yaml")
    parser.add_argument("--request-log", type=Path, default=None, help="append every request as a JSON line to this file")
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        serve_forever(args.port, args.edition, args.demo_dir, args.request_log)
    except OSError as exc:
        print(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
