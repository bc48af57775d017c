"""``dealwatch sources check``: is each source's robots.txt, feed and sitemap there, and does it yield items?

Role in the data flow: what a user runs after editing ``seeds/sources.yaml``, before the
scheduler does. For each source it fetches every host's robots.txt, then each feed and
sitemap once, politely (one request at a time, a pause between requests to one host, the
source's own User-Agent, headers, cookies and proxy), and reports per URL: reachable (HTTP
status), redirected (with the new URL to write instead), blocked (401/403 or a bot-protection
challenge page), disallowed by robots.txt, not a feed, items found and the newest item's date.
A source that yields no item at all is a failure (the command's exit status says so).

:class:`PoliteFetcher` is shared with ``dealwatch sources suggest`` (:mod:`crawler.suggest`).
"""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import httpx

from crawler import walls
from crawler.sources import Source
from dealwatch.dates import parse_datetime, parse_in_zone


@dataclass
class Fetched:
    url: str
    status: int | None = None          # None: not reachable
    final_url: str = ""
    body: bytes = b""
    content_type: str = ""
    error: str = ""
    challenge: str | None = None

    @property
    def redirected(self) -> bool:
        return bool(self.final_url) and self.final_url.rstrip("/") != self.url.rstrip("/")

    @property
    def blocked(self) -> str | None:
        if self.challenge:
            return self.challenge
        if self.status in (401, 403):
            return f"HTTP {self.status}"
        return None


class PoliteFetcher:
    """One request at a time; ``delay`` seconds between two requests to one host."""

    def __init__(self, user_agent: str, delay: float = 1.0, timeout: float = 20.0, max_bytes: int = 10 * 2**20,
                 headers: tuple[tuple[str, str], ...] = (), cookies: str = "", proxy: str = ""):
        h = {"User-Agent": user_agent, **dict(headers)}
        if cookies:
            h["Cookie"] = cookies
        self.client = httpx.Client(headers=h, timeout=timeout, follow_redirects=True, proxy=proxy or None)
        self.delay = delay
        self.max_bytes = max_bytes
        self._last: dict[str, float] = {}

    def close(self) -> None:
        self.client.close()

    def get(self, url: str) -> Fetched:
        host = urlsplit(url).netloc
        wait = self._last.get(host, 0.0) + self.delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            with self.client.stream("GET", url) as resp:
                body = b""
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        break
                out = Fetched(url, resp.status_code, str(resp.url), body, resp.headers.get("content-type", ""))
                out.challenge = walls.challenge_page(resp.status_code, {k.encode(): v.encode()
                                                                        for k, v in resp.headers.items()}, body)
                return out
        except httpx.HTTPError as exc:
            return Fetched(url, error=f"{type(exc).__name__}: {exc}".strip())
        finally:
            self._last[host] = time.monotonic()


def robots_sitemaps(text: str) -> list[str]:
    """The ``Sitemap:`` lines of a robots.txt (any case: some write ``SITEMAP:``)."""
    out = []
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "sitemap" and value.strip():
            out.append(value.strip())
    return list(dict.fromkeys(out))


@dataclass
class UrlReport:
    url: str
    kind: str                          # robots | feed | sitemap
    status: int | None = None
    items: int = 0
    newest: datetime | None = None
    redirected_to: str = ""
    blocked: str = ""
    disallowed: bool = False
    problem: str = ""                  # not reachable, not a feed, …
    index: bool = False                # a sitemap index: its items are sitemaps

    def line(self) -> str:
        if self.kind == "robots":
            state = f"HTTP {self.status}" if self.status else f"not reachable ({self.problem})"
            return f"  robots.txt {self.url}: {state}"
        parts = [f"  {self.kind} {self.url}:"]
        if self.status is None:
            parts.append(f"not reachable ({self.problem})")
        elif self.blocked:
            parts.append(f"blocked ({self.blocked})")
        elif self.status >= 400:
            parts.append(f"HTTP {self.status}")
        elif self.problem:
            parts.append(self.problem)
        else:
            parts.append(f"reachable, {self.items} {'sitemaps' if self.index else 'items'}" + (f", newest {self.newest:%Y-%m-%d %H:%M} UTC"
                                                              if self.newest else ""))
        if self.redirected_to:
            parts.append(f"(redirected: write {self.redirected_to})")
        if self.disallowed:
            parts.append("(disallowed by its robots.txt: the crawler will not fetch it)")
        return " ".join(parts)


@dataclass
class SourceReport:
    name: str
    urls: list[UrlReport] = field(default_factory=list)

    @property
    def items(self) -> int:
        return sum(u.items for u in self.urls if u.kind != "robots" and not u.disallowed and not u.index)

    @property
    def ok(self) -> bool:
        return self.items > 0


def _feed_items(body: bytes, url: str, content_type: str, zone) -> tuple[int, datetime | None, str]:
    import feedparser

    from crawler.spiders.news import feed_body
    parsed = feedparser.parse(feed_body(body), response_headers={"content-type": content_type or "application/xml",
                                                                 "content-location": url})
    entries = [e for e in parsed.get("entries") or [] if e.get("link")]
    if not entries and not parsed.get("version"):
        return 0, None, "not a feed (no RSS or Atom items)"
    dates = [d for e in entries for d in ((parse_in_zone(e.get("updated") or e.get("published"), zone) if zone else
                                           parse_datetime(e.get("updated_parsed") or e.get("published_parsed"))),)
             if d is not None]
    return len(entries), max(dates) if dates else None, ""


def _sitemap_items(body: bytes, zone) -> tuple[int, datetime | None, str]:
    from lxml import etree
    if body[:2] == b"\x1f\x8b":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as exc:
            return 0, None, f"broken gzip sitemap: {exc}"
    try:
        root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True, recover=True))
    except etree.XMLSyntaxError as exc:
        return 0, None, f"not a sitemap: {exc}"
    if root is None or etree.QName(root).localname not in ("urlset", "sitemapindex"):
        return 0, None, "not a sitemap (no urlset or sitemapindex)"
    dates = []
    n = 0
    for node in root:
        if not isinstance(node.tag, str):
            continue
        n += 1
        for el in node.iter():
            if isinstance(el.tag, str) and etree.QName(el).localname in ("lastmod", "publication_date") and el.text:
                d = parse_in_zone(el.text.strip(), zone)
                if d:
                    dates.append(d)
    kind = " (a sitemap index: its entries are sitemaps)" if etree.QName(root).localname == "sitemapindex" else ""
    return n, max(dates) if dates else None, kind.strip()


def _sitemap_children(body: bytes) -> list[str]:
    from lxml import etree
    try:
        root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True, recover=True))
    except etree.XMLSyntaxError:
        return []
    return [el.text.strip() for el in root.iter() if isinstance(el.tag, str) and etree.QName(el).localname == "loc"
            and el.text and el.text.strip()] if root is not None else []


def _article_links(body: bytes, base: str, source: Source) -> int:
    from lxml import html as lxml_html

    from crawler.spiders.news import _SLUG_RE, absolute_url
    try:
        root = lxml_html.fromstring(body)
    except (ValueError, TypeError):
        return 0
    patterns = source.compiled_patterns()
    found = set()
    for href in root.xpath("//a/@href"):
        url = absolute_url(base, href)
        if url and source.allows(url):
            path = urlsplit(url).path
            if (any(p.search(path) for p in patterns) if patterns else _SLUG_RE.search(path)):
                found.add(url)
    return len(found)


def check_source(source: Source, fetcher: PoliteFetcher) -> SourceReport:
    """Fetch the source's robots.txt (per host), feeds and sitemaps once; report each URL."""
    from protego import Protego

    report = SourceReport(source.name)
    robots: dict[str, Protego | None] = {}
    zone = source.zone()
    ua = fetcher.client.headers.get("User-Agent", "*")
    todo = [*source.feeds, *source.sitemaps]
    if not todo:   # a source of section pages only: count the article links on each page
        todo = [u for u in dict.fromkeys([source.homepage, *source.sections]) if u]
    children: list[str] = []
    for url in todo:                    # grows with the children of sitemap indexes
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
        if base not in robots:
            got = fetcher.get(base + "/robots.txt")
            rep = UrlReport(base + "/robots.txt", "robots", got.status, problem=got.error)
            report.urls.append(rep)
            robots[base] = Protego.parse(got.body.decode("utf-8", "replace")) if got.status == 200 else None
        rules = robots[base]
        kind = "feed" if url in source.feeds else "sitemap" if url in source.sitemaps or url in children else "section"
        rep = UrlReport(url, kind)
        report.urls.append(rep)
        if rules is not None and not rules.can_fetch(url, ua):
            rep.disallowed = True
        got = fetcher.get(url)
        rep.status, rep.problem = got.status, got.error
        if got.redirected:
            rep.redirected_to = got.final_url
        if got.status is None:
            continue
        if got.blocked:
            rep.blocked = got.blocked
            continue
        if got.status >= 400:
            continue
        if kind == "section":
            rep.items = _article_links(got.body, got.final_url or url, source)
        elif kind == "feed":
            rep.items, rep.newest, rep.problem = _feed_items(got.body, got.final_url or url, got.content_type, zone)
        else:
            rep.items, rep.newest, note = _sitemap_items(got.body, zone)
            rep.index = note.startswith("(a sitemap index")
            rep.problem = "" if rep.index else note
            if rep.index:   # its child sitemaps are checked too (once each, a few of them)
                for child in _sitemap_children(gzip.decompress(got.body) if got.body[:2] == b"\x1f\x8b" else got.body)[:5]:
                    if child not in children and child not in todo:
                        children.append(child)
                        todo.append(child)
    return report


def fetcher_for(source: Source, settings) -> PoliteFetcher:
    ua = source.user_agent or settings.user_agent.format(contact_url=settings.contact_url)
    return PoliteFetcher(ua, delay=max(settings.download_delay, settings.autothrottle_start_delay),
                         timeout=settings.download_timeout, max_bytes=settings.max_page_bytes,
                         headers=source.headers, cookies=source.cookie_header(), proxy=source.proxy)
