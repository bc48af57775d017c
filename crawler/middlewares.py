"""Downloader middlewares: politeness and retries beyond Scrapy's defaults.

- :class:`BackoffRetryMiddleware`: Scrapy's retry (5xx, timeouts; never 4xx) with an
  exponential pause before each retry (``retry_backoff`` seconds, doubled each time), taken
  without blocking the reactor.
- :class:`RobotsCrawlDelayMiddleware`: honours ``Crawl-delay`` from robots.txt by raising the
  download slot's delay (Scrapy's robots middleware only allows/disallows).
"""

from __future__ import annotations

import asyncio
import logging

from scrapy.downloadermiddlewares.retry import RetryMiddleware
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
