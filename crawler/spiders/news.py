"""The news spider: one instance per source, discovering article URLs and fetching the due ones.

Discovery:
- feeds (RSS/Atom, feedparser): every entry's link, with its updated/published date;
- XML sitemaps (sitemap indexes followed; news sitemaps' ``publication_date`` and
  ``lastmod`` read);
- section and home pages: links whose path matches one of the source's
  ``article_patterns`` (or, without patterns, looks like an article slug); pagination links
  (``rel=next``, ``?page=N``, ``/page/N``) are followed up to ``max_section_pages``.

Every article URL is canonicalised and asked to the known-URL store whether it is due
(:meth:`crawler.known_urls.KnownUrls.decide`); only due ones are requested. Pages kept
in a WARC by an interrupted run are re-read from there first (no fetch). Errors are
classified (DNS, connection, timeout, HTTP status, robots, redirect loop, feed, too large,
not HTML) and counted in ``crawler.stats`` by the :class:`~crawler.extensions.RunReport`.

The spider's one argument is its source; the per-crawl state (known-URL store, WARC writer)
belongs to the :class:`~crawler.extensions.CrawlState` extension of its crawler.
"""

from __future__ import annotations

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
from crawler.sources import Source
from dealwatch.dates import parse_datetime, utcnow
from indexer.raw_pages import read_record

log = logging.getLogger(__name__)

_PAGINATION_RE = re.compile(r"([?&](page|p|strona)=\d+)|(/(page|strona)/\d+/?$)", re.I)
_SLUG_RE = re.compile(r"/(\d{4}/\d{2}/|[^/]*-[^/]*-[^/]*-[^/]*)")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_MAX_SITEMAP_BYTES = 50 * 1024 * 1024


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

    def count(self, key: str, n: int = 1) -> None:
        self.crawler.stats.inc_value(key, n)

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
    def article_request(self, url: str, date: datetime | None = None) -> scrapy.Request | None:
        """A request for this article URL if it is allowed and due, else None."""
        if not url.startswith(("http://", "https://")) or not self.source.allows(url):
            return None
        key = url_key(url)
        if key in self.navigation:  # the home page and sections are never archived as articles
            return None
        if key in self.seen:
            best = self.seen[key]
            if date is not None and (best is None or date > best):
                self.seen[key] = date
                if key in self.fetched:
                    self.known.note_lastmod(key, date)
            return None
        self.seen[key] = date
        decision = self.known.decide(key, date)
        if not decision.fetch:
            self.count(run_report.SKIPPED_KNOWN)
            return None
        self.fetched.add(key)
        self.count(run_report.FETCH_REASONS + decision.why)
        # dont_filter: URL variants are deduplicated by key above; it also lets a redirect loop
        # run into REDIRECT_MAX_TIMES (reported as redirect_loop) instead of vanishing in the dupefilter
        return scrapy.Request(url, callback=self.parse_article, errback=self.on_error, dont_filter=True,
                              meta={"kind": "article", "key": key, "why": decision.why})

    def parse_feed(self, response: Response):
        import feedparser

        parsed = feedparser.parse(response.body)
        entries = parsed.get("entries") or []
        if parsed.get("bozo"):
            # a malformed feed is reported; whatever entries the lenient parser recovered are still used
            exc = parsed.get("bozo_exception")
            self.report.error("feed", response.url, f"malformed RSS/Atom feed ({len(entries)} entries recovered): {exc}")
        for entry in entries:
            link = entry.get("link")
            if not link:
                continue
            date = parse_datetime(entry.get("updated_parsed")) or parse_datetime(entry.get("published_parsed"))
            url = absolute_url(response.url, link)
            req = self.article_request(url, date) if url else None
            if req is not None:
                yield req

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
                if self.source.allows(loc):
                    yield scrapy.Request(loc, callback=self.parse_sitemap, errback=self.on_error,
                                         meta={"kind": "sitemap"}, priority=20)
                continue
            if self.patterns and not self._looks_like_article(loc):
                continue  # sitemaps list every page; with patterns, only articles are taken
            dates = [d for d in (parse_datetime(fields.get("lastmod")), parse_datetime(fields.get("publication_date")))
                     if d is not None]
            req = self.article_request(loc, max(dates) if dates else None)
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
                req = self.article_request(url)
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
        yield PageItem(source=self.source.name, language=self.source.language, url=response.url, keys=keys,
                       fetched_at=now, status=response.status, headers=headers, body=response.body,
                       encoding=response.encoding, lastmod=lastmod)

    def on_error(self, failure) -> None:
        request = failure.request
        kind, message = classify_failure(failure)
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
