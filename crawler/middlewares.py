"""Downloader middlewares: politeness and retries beyond Scrapy's defaults.

- :class:`BackoffRetryMiddleware`: Scrapy's retry (5xx, timeouts; never 4xx) with an
  exponential pause before each retry (``retry_backoff`` seconds, doubled each time), taken
  without blocking the reactor.
- :class:`RedirectLoopMiddleware`: stops a redirect chain as soon as it comes back to a URL
  it already visited (instead of running into ``REDIRECT_MAX_TIMES``), as ``redirect_loop``.

robots.txt's ``Crawl-delay`` is honoured by :class:`crawler.extensions.RobotsCrawlDelay`.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urljoin

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request

from crawler.canonical import url_key

log = logging.getLogger(__name__)


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, settings):
        super().__init__(settings)
        self.backoff = settings.getfloat("DW_RETRY_BACKOFF")

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
            target = url_key(urljoin(request.url, response.headers[b"Location"].decode("latin-1")))
            visited = {url_key(u) for u in (*request.meta.get("redirect_urls", ()), request.url)}
            if target in visited:
                raise IgnoreRequest(f"redirect loop: {request.url} -> {target} was already visited")
        return response
