"""Downloader middlewares: politeness and retries beyond Scrapy's defaults.

- :class:`BackoffRetryMiddleware`: Scrapy's retry (5xx, timeouts; never 4xx) with an
  exponential pause before each retry (``retry_backoff`` seconds, doubled each time), taken
  without blocking the reactor.
- :class:`RedirectLoopMiddleware`: stops a redirect chain as soon as it comes back to a URL
  it already visited (instead of running into ``REDIRECT_MAX_TIMES``), as ``redirect_loop``.
- :class:`RobotsCrawlDelayMiddleware`: honours ``Crawl-delay`` from robots.txt by raising the
  download slot's delay (Scrapy's robots middleware only allows/disallows).
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urljoin

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request

log = logging.getLogger(__name__)


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, settings):
        super().__init__(settings)
        self.backoff = settings.getfloat("DEALWATCH_RETRY_BACKOFF", 1.0)

    async def _pause(self, result):
        if isinstance(result, Request):
            n = result.meta.get("retry_times", 1)
            await asyncio.sleep(self.backoff * (2 ** (n - 1)))
        return result

    async def process_response(self, request, response, spider=None):
        return await self._pause(super().process_response(request, response))

    async def process_exception(self, request, exception, spider=None):
        return await self._pause(super().process_exception(request, exception))


class RedirectLoopMiddleware:
    """Sits just below Scrapy's RedirectMiddleware and sees each 3xx response first."""

    def process_response(self, request, response, spider=None):
        if response.status in (301, 302, 303, 307, 308) and b"Location" in response.headers:
            from crawler.canonical import url_key
            target = url_key(urljoin(request.url, response.headers[b"Location"].decode("latin-1")))
            visited = {url_key(u) for u in (*request.meta.get("redirect_urls", ()), request.url)}
            if target in visited:
                raise IgnoreRequest(f"redirect loop: {request.url} -> {target} was already visited")
        return response


class RobotsCrawlDelayMiddleware:
    """After robots.txt is parsed for a host, apply its Crawl-delay to that host's slot."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.applied: set[str] = set()
        self.delays: dict[str, float] = {}

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _robots_parser(self, netloc: str):
        for mw in self.crawler.engine.downloader.middleware.middlewares:
            parsers = getattr(mw, "_parsers", None)
            if parsers is not None:
                parser = parsers.get(netloc)
                return parser if hasattr(parser, "rp") else None
        return None

    def process_request(self, request, spider=None):
        from urllib.parse import urlsplit
        netloc = urlsplit(request.url).netloc
        if netloc in self.delays:  # AutoThrottle must not lower a delay robots.txt asked for
            request.meta["autothrottle_dont_adjust_delay"] = True
        if netloc in self.applied or request.url.endswith("/robots.txt"):
            return None
        parser = self._robots_parser(netloc)
        if parser is None:
            return None
        self.applied.add(netloc)
        ua = self.crawler.settings.get("ROBOTSTXT_USER_AGENT") or self.crawler.settings.get("USER_AGENT")
        try:
            delay = parser.rp.crawl_delay(ua)
        except Exception as exc:  # a malformed Crawl-delay line: ignore it, but say so
            log.warning("could not read Crawl-delay for %s: %s", netloc, exc)
            return None
        if delay:
            downloader = self.crawler.engine.downloader
            key = downloader.get_slot_key(request) if hasattr(downloader, "get_slot_key") else netloc
            slot = downloader.slots.get(key)
            self.delays[netloc] = float(delay)
            request.meta["autothrottle_dont_adjust_delay"] = True
            if slot is not None and delay > slot.delay:
                slot.delay = float(delay)
                log.info("robots.txt Crawl-delay for %s: %.1f s", netloc, delay)
        return None
