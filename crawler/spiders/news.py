"""The news spider: one instance per source, discovering article URLs and fetching the due ones.

Discovery:
- feeds (RSS/Atom, feedparser): every entry's link, with its updated/published date;
- XML sitemaps (sitemap indexes followed; news sitemaps' ``publication_date`` and
  ``lastmod`` read);
- section and home pages: links whose path matches one of the source's
  ``article_patterns`` (or, without patterns, looks like an article slug); pagination links
  (``rel=next``, ``?page=N``, ``/page/N``) are followed up to ``max_section_pages``.

A **search source** (``engine``: Google News, Bing News, Google Alerts) reads only feeds; each
item's link is resolved to the publisher's URL (:mod:`crawler.resolve`: locally when the link
carries it, through Google's decoder for newer Google News ids, each answer cached in the
crawl state) and fetched on the publisher's own domain (not limited to ``allowed_domains``;
robots.txt, politeness and size limits apply as everywhere). Every item ends counted: an
article, a known URL (``known``), the same article as an earlier item (``duplicate``), or a
reason (``unresolved``, ``consent_wall``, ``blocked``, ``robots``, ``http_404``, …), under
``dealwatch/items/`` and the usual drop and error counters.

Every document carries how it was found (``found_via``: ``feed``, ``sitemap``, ``section``,
``search:<source>``); an article archived by another source and met again here is not fetched
again, its ``found_via`` grows instead (once: the sighting is kept in the crawl state).

Every article URL is canonicalised and asked to the known-URL store whether it is due
(:meth:`crawler.known_urls.KnownUrls.decide`); only due ones are requested. Pages kept
in a WARC by an interrupted run are re-read from there first (no fetch). Errors are
classified (DNS, connection, timeout, HTTP status, robots, redirect loop, feed, too large,
not HTML) and counted in ``crawler.stats`` by the :class:`~crawler.extensions.RunReport`.

The spider's one argument is its source; the per-crawl state (known-URL store, WARC writer)
belongs to the :class:`~crawler.extensions.CrawlState` extension of its crawler.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import logging
import re
from datetime import datetime
from functools import cached_property
from typing import Any, AsyncIterator
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy import exceptions as sx
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.response import get_base_url

from crawler import run_report
from crawler.canonical import url_key
from crawler.extensions import CrawlState, RunReport
from crawler.items import PageItem
from crawler.middlewares import Blocked, ConsentWall
from crawler.resolve import GoogleNewsDecoder, Resolution, google_news_id, outlet_of, resolve_link, split_title
from crawler.sources import Source
from dealwatch.dates import parse_datetime, parse_in_zone, utcnow
from indexer.raw_pages import read_record

log = logging.getLogger(__name__)

_PAGINATION_RE = re.compile(r"([?&](page|p|strona)=\d+)|(/(page|strona)/\d+/?$)", re.I)
_SLUG_RE = re.compile(r"/(\d{4}/\d{2}/|[^/]*-[^/]*-[^/]*-[^/]*)")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_MAX_SITEMAP_BYTES = 50 * 1024 * 1024
_DECODE_BATCH = 10          # Google News ids resolved per decoder call
_LEADING_JUNK = b"\xef\xbb\xbf \t\r\n\x00"


def feed_body(body: bytes) -> bytes:
    """A feed as published, made parseable: a BOM or blank lines before ``<?xml`` removed."""
    start = 0
    while start < len(body) and body[start:start + 1] in (b" ", b"\t", b"\r", b"\n", b"\x00"):
        start += 1
    if body[start:start + 3] == b"\xef\xbb\xbf":
        return feed_body(body[start + 3:])
    return body[start:]


def absolute_url(base: str, href: str) -> str | None:
    """``href`` resolved against ``base``, or None when it is no URL at all (real pages link to
    things like ``http://[ccpa-preferences]``, on which Python's URL parser raises)."""
    try:
        url = urljoin(base, href.strip())
        urlsplit(url).hostname
    except ValueError:
        return None
    return url


def classify_failure(failure) -> tuple[str, str]:
    """A download failure -> (error kind or ``drop:<reason>``, message)."""
    from twisted.internet import defer, error as txerror

    exc = failure.value
    msg = str(exc) or type(exc).__name__
    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}", f"HTTP {exc.response.status}"
    if isinstance(exc, Blocked):
        return "blocked", msg
    if isinstance(exc, ConsentWall):
        return "drop:consent_wall", msg
    if isinstance(exc, IgnoreRequest):
        if "robots" in msg.lower():
            return "robots", "disallowed by robots.txt"
        if "redirect" in msg.lower():
            return "redirect_loop", msg
        return "ignored", msg
    if isinstance(exc, (txerror.DNSLookupError, sx.CannotResolveHostError)):
        return "dns", msg
    if isinstance(exc, (txerror.ConnectionRefusedError, sx.DownloadConnectionRefusedError)):
        return "connection", msg
    if isinstance(exc, (txerror.TimeoutError, txerror.TCPTimedOutError, defer.TimeoutError, sx.DownloadTimeoutError)):
        return "timeout", msg
    if isinstance(exc, (defer.CancelledError, sx.DownloadCancelledError)):
        return "drop:too_large", msg or "response larger than the maximum page size"
    if isinstance(exc, (txerror.ConnectError, txerror.ConnectionLost, txerror.ConnectionDone, sx.DownloadFailedError,
                        sx.ResponseDataLossError)):
        return "connection", msg
    return "other", f"{type(exc).__name__}: {msg}"


class NewsSpider(scrapy.Spider):
    name = "news"

    def __init__(self, source: Source, **kwargs: Any):
        super().__init__(name=f"news-{source.name}", **kwargs)
        self.source = source
        self.allowed_domains = list(source.allowed_domains)
        self.patterns = source.compiled_patterns()
        self.seen: dict[str, datetime | None] = {}     # article key -> best date met in this run
        self.fetched: set[str] = set()                 # article keys fetched in this run
        self.section_pages = 0
        self.navigation = {url_key(u) for u in (source.homepage, *source.sections) if u}
        self.zone = source.zone()
        self.sightings: dict[str, str] = {}            # key of an article another source archived -> found_via

    # --- the crawl's state and report (extensions of this spider's crawler) ----------
    @cached_property
    def known(self):
        """The known-URL store."""
        return self.crawler.get_extension(CrawlState).known

    @cached_property
    def report(self) -> RunReport:
        return self.crawler.get_extension(RunReport)

    @cached_property
    def dw(self):
        """The DealWatch settings of this crawl."""
        return self.settings["DW_SETTINGS"]

    @cached_property
    def links(self):
        """The link state: resolved search links, sightings."""
        return self.crawler.get_extension(CrawlState).links

    @cached_property
    def decoder(self) -> GoogleNewsDecoder:
        return GoogleNewsDecoder(proxy=self.source.proxy, interval=self.dw.google_news_decode_interval,
                                 timeout=min(10.0, self.dw.download_timeout),
                                 user_agent=self.settings.get("USER_AGENT", ""))

    def count(self, key: str, n: int = 1) -> None:
        self.crawler.stats.inc_value(key, n)

    def date_of(self, value) -> datetime | None:
        """A feed's or sitemap's date, read in the source's timezone when it names one."""
        return parse_in_zone(value, self.zone) if self.zone else parse_datetime(value)

    # --- start ----------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        for page in list(self.known.pending(self.source.name)):
            try:
                raw = read_record(self.dw.data_dir, page.warc, page.offset)
            except (OSError, ValueError) as exc:
                log.warning("cannot re-read %s from %s: %s; it will be fetched", page.url, page.warc, exc)
                self.known.forget(page.key)
                continue
            self.seen[page.key] = page.lastmod
            self.count(run_report.RECOVERED)
            yield PageItem(source=self.source.name, language=self.source.language, url=page.url, keys=[page.key],
                           fetched_at=raw.fetched_at or utcnow(), body=raw.body, encoding=raw.encoding,
                           lastmod=page.lastmod, raw_warc=page.warc, raw_offset=page.offset,
                           raw_length=None, recovered=True)
        for url in self.source.feeds:
            yield scrapy.Request(url, callback=self.parse_feed, errback=self.on_error, meta={"kind": "feed"},
                                 priority=20)
        for url in self.source.sitemaps:
            yield scrapy.Request(url, callback=self.parse_sitemap, errback=self.on_error,
                                 meta={"kind": "sitemap"}, priority=20)
        pages = ([self.source.homepage] if self.source.homepage else []) + list(self.source.sections)
        for url in dict.fromkeys(pages):
            self.section_pages += 1
            yield scrapy.Request(url, callback=self.parse_section, errback=self.on_error,
                                 meta={"kind": "section"}, priority=10)

    # --- discovery ------------------------------------------------------------------
    def article_request(self, url: str, date: datetime | None = None, via: str = "feed",
                        outlet: str = "") -> scrapy.Request | None:
        """A request for this article URL if it is allowed and due, else None."""
        return self.article_decision(url, date, via, outlet)[0]

    def article_decision(self, url: str, date: datetime | None = None, via: str = "feed",
                         outlet: str = "") -> tuple[scrapy.Request | None, str]:
        """(the request for this article URL, or None; what became of it: ``request``, ``outside``,
        ``navigation``, ``duplicate`` (met before in this run) or ``known`` (archived, not due))."""
        if not url.startswith(("http://", "https://")) or not self.source.allows(url):
            return None, "outside"
        if self.source.excludes(url):
            return None, "excluded"
        key = url_key(url)
        if key in self.navigation:  # the home page and sections are never archived as articles
            return None, "navigation"
        if key in self.seen:
            best = self.seen[key]
            if date is not None and (best is None or date > best):
                self.seen[key] = date
                if key in self.fetched:
                    self.known.note_lastmod(key, date)
            return None, "duplicate"
        self.seen[key] = date
        decision = self.known.decide(key, date)
        if not decision.fetch:
            self.count(run_report.SKIPPED_KNOWN)
            self._note_sighting(key, via)
            return None, "known"
        self.fetched.add(key)
        self.count(run_report.FETCH_REASONS + decision.why)
        # dont_filter: URL variants are deduplicated by key above; it also lets a redirect loop
        # run into REDIRECT_MAX_TIMES (reported as redirect_loop) instead of vanishing in the dupefilter
        return scrapy.Request(url, callback=self.parse_article, errback=self.on_error, dont_filter=True,
                              meta={"kind": "article", "key": key, "why": decision.why, "via": via,
                                    "outlet": outlet, "item": self.source.is_search}), "request"

    def _note_sighting(self, key: str, via: str) -> None:
        """An archived article met here: another source's article gets this ``found_via`` (at close)."""
        owner = self.known.owner(key)
        if owner and owner[0] != self.source.name and not self.links.sighted(key, self.source.name):
            self.sightings.setdefault(key, via)

    def _feed_entries(self, response: Response) -> list:
        import feedparser

        ctype = response.headers.get(b"Content-Type", b"application/xml").decode("latin-1")
        parsed = feedparser.parse(feed_body(response.body),
                                  response_headers={"content-type": ctype, "content-location": response.url})
        entries = parsed.get("entries") or []
        if parsed.get("bozo") and not (entries and type(parsed.get("bozo_exception")).__name__ in
                                       ("NonXMLContentType", "CharacterEncodingOverride")):
            # a malformed feed is reported; whatever entries the lenient parser recovered are still used
            exc = parsed.get("bozo_exception")
            self.report.error("feed", response.url, f"malformed RSS/Atom feed ({len(entries)} entries recovered): {exc}")
        return entries

    def _entry_date(self, entry) -> datetime | None:
        if self.zone:
            return self.date_of(entry.get("updated")) or self.date_of(entry.get("published"))
        return parse_datetime(entry.get("updated_parsed")) or parse_datetime(entry.get("published_parsed"))

    async def parse_feed(self, response: Response):
        entries = self._feed_entries(response)
        if self.source.is_search:
            async for req in self._search_items(response, entries):
                yield req
            return
        for entry in entries:
            link = entry.get("link")
            if not link:
                continue
            url = absolute_url(response.url, link)
            req = self.article_request(url, self._entry_date(entry), "feed") if url else None
            if req is not None:
                yield req

    # --- search sources: items -> publishers' articles ------------------------------------
    def _item_outcome(self, outcome: str) -> None:
        self.count(run_report.ITEMS + outcome)

    async def _search_items(self, response: Response, entries: list):
        """Resolve each item to its publisher URL and request it; count what becomes of every item."""
        items = []
        ask: dict[str, None] = {}
        for entry in entries:
            self._item_outcome("seen")
            link = absolute_url(response.url, entry.get("link") or "") if entry.get("link") else None
            outlet, _ = outlet_of(entry)
            if not link:
                self.report.dropped("unresolved", response.url, f"an item without a link: {entry.get('title')!r}")
                continue
            resolution = resolve_link(link)
            gid = google_news_id(link) if resolution.ask_google else None
            if gid is not None:
                cached = self.links.resolution("gn:" + gid)
                if cached is not None:
                    resolution = Resolution(url=cached[0], reason=cached[1])
                else:
                    ask[gid] = None
            items.append((entry, link, outlet, gid, resolution))
        answers: dict[str, Resolution] = {}
        ids = list(ask)
        for i in range(0, len(ids), _DECODE_BATCH):
            chunk = ids[i:i + _DECODE_BATCH]
            got = await asyncio.to_thread(self.decoder.decode, chunk)
            self.count(run_report.ITEMS + "decoded_by_google", sum(1 for r in got.values() if r.url))
            for gid, res in got.items():
                self.links.remember("gn:" + gid, res.url, res.reason)
            answers.update(got)
        for entry, link, outlet, gid, resolution in items:
            if gid is not None and gid in answers:
                resolution = answers[gid]
            if not resolution.url:
                self.report.dropped("unresolved", link, resolution.reason or "could not be resolved")
                continue
            url = absolute_url(link, resolution.url)
            if not outlet:
                _, outlet = split_title(entry.get("title") or "")
            req, outcome = self.article_decision(url, self._entry_date(entry), self.source.found_via_search, outlet)
            if req is not None:
                yield req
            elif outcome == "outside":
                self.report.dropped("outside_domains", url, f"outside {', '.join(self.source.allowed_domains)}")
            else:
                self._item_outcome(outcome)      # known | duplicate | excluded | navigation

    def parse_sitemap(self, response: Response):
        from lxml import etree

        body = response.body
        if body[:2] == b"\x1f\x8b":
            try:
                with gzip.GzipFile(fileobj=io.BytesIO(body)) as gz:
                    body = gz.read(_MAX_SITEMAP_BYTES)
            except (OSError, EOFError) as exc:
                self.report.error("feed", response.url, f"broken gzip sitemap: {exc}")
                return
        try:
            root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True,
                                                                huge_tree=True, recover=True))
            problem = "empty document" if root is None else ""
        except etree.XMLSyntaxError as exc:
            root, problem = None, str(exc)
        if root is None:
            self.report.error("feed", response.url, f"not a readable XML sitemap: {problem}")
            return
        kind = etree.QName(root).localname
        for node in root:
            if not isinstance(node.tag, str):
                continue
            fields: dict[str, str] = {}
            for el in node.iter():
                if isinstance(el.tag, str) and el.text and el.text.strip():
                    fields.setdefault(etree.QName(el).localname, el.text.strip())
            loc = fields.get("loc")
            if not loc:
                continue
            loc = absolute_url(response.url, loc)
            if loc is None:
                continue
            if kind == "sitemapindex":
                if self.source.allows(loc) or self.source.is_search:
                    yield scrapy.Request(loc, callback=self.parse_sitemap, errback=self.on_error,
                                         meta={"kind": "sitemap"}, priority=20)
                continue
            if self.patterns and not self._looks_like_article(loc):
                continue  # sitemaps list every page; with patterns, only articles are taken
            dates = [d for d in (self.date_of(fields.get("lastmod")), self.date_of(fields.get("publication_date")))
                     if d is not None]
            req = self.article_request(loc, max(dates) if dates else None, "sitemap")
            if req is not None:
                yield req

    def _looks_like_article(self, url: str) -> bool:
        path = urlsplit(url).path
        if self.patterns:
            return any(p.search(path) for p in self.patterns)
        return bool(_SLUG_RE.search(path))

    def parse_section(self, response: Response):
        if not isinstance(response, TextResponse):
            return
        base = get_base_url(response)    # the page's <base href>, else its URL
        next_pages = set(response.css('a[rel~="next"]::attr(href), link[rel~="next"]::attr(href)').getall())
        for href in response.css("a::attr(href)").getall():
            url = absolute_url(base, href)
            if url is None or not self.source.allows(url):
                continue
            if self._looks_like_article(url):
                req = self.article_request(url, via="section")
                if req is not None:
                    yield req
            elif _PAGINATION_RE.search(url):
                next_pages.add(href)
        for href in next_pages:
            if self.section_pages >= self.dw.max_section_pages:
                break
            url = absolute_url(base, href)
            if url is not None and self.source.allows(url):
                self.navigation.add(url_key(url))
                self.section_pages += 1
                yield scrapy.Request(url, callback=self.parse_section, errback=self.on_error,
                                     meta={"kind": "section"}, priority=10)

    # --- articles -------------------------------------------------------------------
    def parse_article(self, response: Response):
        key = response.meta["key"]
        keys = [key]
        if response.url != response.request.url:
            keys.append(url_key(response.url))
        now = utcnow()
        lastmod = self.seen.get(key)
        ctype = response.headers.get(b"Content-Type", b"").decode("latin-1").split(";")[0].strip().lower()
        if not isinstance(response, TextResponse) or (ctype and ctype not in _HTML_TYPES):
            self.report.dropped("not_html", response.url, f"Content-Type {ctype or 'unknown'}")
            for k in keys:
                self.known.mark_dropped(k, self.source.name, response.url, "not_html", now, lastmod)
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, vs in response.headers.items() for v in vs]
        via = response.meta.get("via")
        yield PageItem(source=self.source.name, language=self.source.language, url=response.url, keys=keys,
                       fetched_at=now, status=response.status, headers=headers, body=response.body,
                       encoding=response.encoding, lastmod=lastmod, found_via=[via] if via else [],
                       outlet=response.meta.get("outlet") or "", timezone=self.source.timezone)

    def on_error(self, failure) -> None:
        request = failure.request
        kind, message = classify_failure(failure)
        if request.meta.get("item") and not kind.startswith("drop:"):
            self.count(run_report.ITEM_ERRORS + kind)
        if kind == "blocked":   # the domain was reported once, when it blocked us
            log.debug("%s: %s %s", self.source.name, message, request.url)
            return
        if kind.startswith("drop:"):
            reason = kind[5:]
            self.report.dropped(reason, request.url, message)
            key = request.meta.get("key")
            if key and request.meta.get("kind") == "article":
                self.known.mark_dropped(key, self.source.name, request.url, reason, utcnow(),
                                        self.seen.get(key))
            return
        self.report.error(kind, request.url, message)
        log.info("%s: %s %s (%s)", self.source.name, kind, request.url, message)

    # --- the end -------------------------------------------------------------------------
    def closed(self, reason: str) -> None:
        """Tell the archive which articles of other sources this source found too (``found_via``)."""
        if not self.sightings:
            return
        from indexer.archive import Archive
        from indexer.errors import ArchiveError

        todo = []
        for key, via in self.sightings.items():
            owner = self.known.owner(key)
            if owner and owner[2] == "indexed" and owner[1]:
                todo.append((key, owner[1], via))
        if not todo:
            return
        claim = None if self.source.is_search else self.source.name
        try:
            result = Archive(self.dw).add_found_via([(doc_id, via, claim) for _, doc_id, via in todo])
        except ArchiveError as exc:
            log.warning("%s: could not add found_via to %d archived articles: %s", self.source.name, len(todo), exc)
            return
        for key, doc_id, _ in todo:
            if doc_id not in result.failures:
                self.links.note_sighting(key, self.source.name)
        self.count(run_report.PREFIX + "found_again", len(todo) - result.failed)
