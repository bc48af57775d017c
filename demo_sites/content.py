"""The demo's content: the sites and articles of ``seeds/demo/sites``, and the truth the tests check against.

Role in the data flow: the demo web's data. Each site in ``seeds/demo/sites/<dir>/`` (a
``site.yaml`` plus ``articles/*.md`` with YAML front matter) becomes a :class:`Site` holding
its :class:`Article` records; :mod:`demo_sites.render` turns them into pages and feeds and
:mod:`demo_sites.server` serves them. The same records are the expected truth of the tests:
:func:`load_sites` and :func:`expected_articles` say which articles exist, with which URL,
title, date and language.

Editions model a site that changes between crawls: edition 1 is the default world; from
edition 2 on, the articles marked ``edition: 2`` appear and articles with a ``revised`` body
show that body instead (see :data:`EDITION2_NEW_ARTICLES`, :data:`EDITION2_REVISED_ARTICLES`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from dealwatch.dates import parse_datetime
from dealwatch.settings import get_settings

DEFAULT_PORT = 8080  # the port written in seeds/demo/sources.yaml

# The incremental-crawl facts of the bundled demo (checked by tests/test_demo_sites.py).
EDITION2_SITE = "baltic-ledger"
EDITION2_NEW_ARTICLES = 5
EDITION2_REVISED_ARTICLES = 1


def default_demo_dir() -> Path:
    """Where the demo's data lives: ``seeds/demo`` (``sites/`` and ``sources.yaml``)."""
    return get_settings().seeds_dir / "demo"


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


TROUBLE_KINDS = ("not_found", "server_error", "redirect_loop", "binary", "empty", "oversized", "slow")


@dataclass(frozen=True)
class TroubleCase:
    """A deliberately bad URL on the trouble site; :mod:`demo_sites.trouble` answers there."""
    kind: str               # one of TROUBLE_KINDS
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
def _zoned_time(value: Any) -> datetime:
    """A front-matter date in UTC. Stricter than :func:`dealwatch.dates.parse_datetime`, which
    reads a date without a zone as UTC: a demo date must name its zone (pages show the hour)."""
    written = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
    if written.tzinfo is None:
        raise ValueError(f"date {value!r} has no timezone")
    return parse_datetime(written)


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
        published = _zoned_time(meta["date"])
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
            revised_at=_zoned_time(meta["revised_date"]) if meta.get("revised_date") else None,
            hostile=bool(meta.get("hostile", False)),
            private=private,
        )
    except KeyError as exc:
        raise ValueError(f"{path}: front matter lacks {exc.args[0]!r}") from exc
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


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
    for case in site.trouble_cases:
        if case.kind not in TROUBLE_KINDS:
            raise ValueError(f"{directory / 'site.yaml'}: trouble case {case.path} has unknown kind {case.kind!r}; "
                             f"known: {', '.join(TROUBLE_KINDS)}")
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
