"""Downloader middlewares: politeness and retries beyond Scrapy's defaults.

- :class:`BackoffRetryMiddleware`: Scrapy's retry (5xx, timeouts; never 4xx) with an
  exponential pause before each retry (``retry_backoff`` seconds, doubled each time), taken
  without blocking the reactor.
- :class:`RedirectLoopMiddleware`: stops a redirect chain as soon as it comes back to a URL
  it already visited (instead of running into ``REDIRECT_MAX_TIMES``), as ``redirect_loop``.

The real web's manners (issue "Reach"):

- :class:`SourceMannersMiddleware`: a source's extra headers, cookies and proxy on its requests;
- :class:`BotProtectionMiddleware`: repeated 401/403 or a challenge page block the domain for
  the run (``blocked``, reported once);
- :class:`RetryAfterMiddleware`: 429/503 with ``Retry-After``: the domain waits, then the request
  is tried again; repeated 429s slow the domain down for the rest of the run;
- :class:`ConsentRedirectMiddleware` and :class:`SameSiteMetaRefreshMiddleware`: redirects to
  consent hosts are consent walls; meta refreshes are followed only inside the source's domains.

robots.txt's ``Crawl-delay`` is honoured by :class:`crawler.extensions.RobotsCrawlDelay`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import urljoin

from scrapy import signals
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
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


# --- the real web's manners ---------------------------------------------------------------

class Blocked(IgnoreRequest):
    """A request not sent (or a response not used) because the domain's bot protection refuses us."""


class ConsentWall(IgnoreRequest):
    """A redirect (HTTP or meta refresh) to a consent host: the page behind it is a consent wall."""


def _source(spider):
    return getattr(spider, "source", None)


def _host(url: str) -> str:
    from urllib.parse import urlsplit
    return (urlsplit(url).hostname or "").lower()


def _site(host: str) -> str:
    """The site a host belongs to, for "inside the source's domains" of a search source: its
    last two labels (``www.example.pl`` and ``biznes.example.pl`` are one site); an IP address
    is its own site."""
    if host.replace(".", "").isdigit() or ":" in host:
        return host
    return ".".join(host.split(".")[-2:])


class SourceMannersMiddleware:
    """What a source asks for on every request: extra headers, its cookies, its proxy.

    The source's User-Agent is its crawler's ``USER_AGENT`` (robots.txt is matched against it).
    Cookies go to the source's own domains (a search source: to every publisher); a proxy
    carries every request of the source (``meta["proxy"]``, Scrapy's HttpProxyMiddleware).
    """

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request, spider=None):
        source = _source(spider or self.crawler.spider)
        if source is None:
            return None
        for name, value in source.headers:
            request.headers.setdefault(name, value)
        if source.cookies and (source.is_search or source.allows(request.url)) and b"Cookie" not in request.headers:
            request.headers["Cookie"] = source.cookie_header()
        if source.proxy and "proxy" not in request.meta:
            request.meta["proxy"] = source.proxy
        return None


class BotProtectionMiddleware:
    """Stops requests to a domain whose bot protection refuses us, and says so once.

    ``blocked_after_denials`` 401/403 answers in a row from a domain, or one known challenge page
    (:func:`crawler.walls.challenge_page`: Cloudflare, DataDome, PerimeterX, …), block the domain
    for the rest of the run: its later requests are never sent. The run report gets one
    ``blocked`` error per domain; each refused request fails with :class:`Blocked`. Once a domain
    has denied a request, its requests go one at a time until it answers otherwise, so a domain
    that refuses everything is asked ``blocked_after_denials`` times, not once per waiting page.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        dw = crawler.settings["DW_SETTINGS"]
        self.limit = dw.blocked_after_denials
        self.patience = dw.download_timeout * 2
        self.denials: dict[str, int] = {}
        self.blocked: dict[str, str] = {}      # domain -> why
        self.inflight: dict[str, int] = {}

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_request(self, request, spider=None):
        host = _host(request.url)
        waited = 0.0
        while self.denials.get(host) and self.inflight.get(host) and waited < self.patience:
            await asyncio.sleep(0.05)      # a denying domain: one request at a time
            waited += 0.05
        if host in self.blocked:
            raise Blocked(f"blocked: {host} refuses this crawler ({self.blocked[host]}); not requested")
        self.inflight[host] = self.inflight.get(host, 0) + 1
        request.meta["dw_counted_inflight"] = True
        return None

    def _done(self, request, host: str) -> None:
        if request.meta.pop("dw_counted_inflight", False):
            self.inflight[host] = max(0, self.inflight.get(host, 1) - 1)

    def process_exception(self, request, exception, spider=None):
        self._done(request, _host(request.url))
        return None

    def process_response(self, request, response, spider=None):
        from crawler import walls
        host = _host(request.url)
        self._done(request, host)
        challenge = walls.challenge_page(response.status, response.headers, response.body)
        if response.status in (401, 403) or challenge:
            self.denials[host] = self.denials.get(host, 0) + 1
            if challenge or self.denials[host] >= self.limit:
                why = challenge or f"{self.denials[host]} answers {response.status} in a row"
                self._block(host, request.url, why)
                raise Blocked(f"blocked: {host} refuses this crawler ({why})")
        else:
            self.denials[host] = 0
        return response

    def _block(self, host: str, url: str, why: str) -> None:
        if host in self.blocked:
            return
        from crawler.extensions import RunReport
        self.blocked[host] = why
        log.warning("%s: bot protection (%s): no more requests to it in this run", host, why)
        self.crawler.get_extension(RunReport).error("blocked", url, f"{host}: {why}; no more requests this run")


class RetryAfterMiddleware:
    """429 and 503 with ``Retry-After``: the domain waits, the request is tried again after it.

    ``Retry-After`` is seconds or an HTTP date (a 429 without it waits 30 s, as Media Cloud
    does), capped by ``retry_after_max``; every request to that domain waits until then (they
    sleep before entering the download slot), the wait is logged and counted
    (``dealwatch/throttled/…``). From the second 429 of a domain on, its download slot keeps at
    least ``throttled_delay`` seconds between requests for the rest of the run. A request is tried
    again at most ``retry_times`` times (at least once); then its 429/503 is reported.
    """

    DEFAULT_429_WAIT = 30.0

    def __init__(self, crawler):
        self.crawler = crawler
        dw = crawler.settings["DW_SETTINGS"]
        self.cap = dw.retry_after_max
        self.slow_delay = dw.throttled_delay
        self.max_times = max(1, dw.retry_times)
        self.until: dict[str, float] = {}      # slot key -> monotonic time before which nothing is sent
        self.hits: dict[str, int] = {}         # slot key -> 429 answers
        self.slowed: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler)
        crawler.signals.connect(ext.request_reached_downloader, signal=signals.request_reached_downloader)
        return ext

    def _key(self, request) -> str:
        return self.crawler.engine.downloader.get_slot_key(request)

    @staticmethod
    def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
        """Seconds to wait from a ``Retry-After`` value (seconds or an HTTP date); None when unreadable."""
        if not value:
            return None
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            from email.utils import parsedate_to_datetime
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        from dealwatch.dates import as_utc, utcnow
        return max(0.0, (as_utc(when) - utcnow()).total_seconds())

    async def process_request(self, request, spider=None):
        key = self._key(request)
        wait = self.until.get(key, 0.0) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        return None

    def request_reached_downloader(self, request, spider=None) -> None:
        key = request.meta.get("download_slot")
        if key in self.slowed:
            request.meta["autothrottle_dont_adjust_delay"] = True
            slot = self.crawler.engine.downloader.slots.get(key)
            if slot is not None and slot.delay < self.slow_delay:
                slot.delay = self.slow_delay

    def process_response(self, request, response, spider=None):
        if response.status not in (429, 503):
            return response
        header = response.headers.get(b"Retry-After")
        value = header.decode("latin-1") if header else None
        wait = self.parse_retry_after(value)
        if wait is None:
            if response.status == 503:
                return response          # a plain 503: the retry middleware's backoff
            wait = self.DEFAULT_429_WAIT
        times = request.meta.get("retry_after_times", 0)
        if times >= self.max_times:
            return response
        wait = min(wait, self.cap)
        key = self._key(request)
        self.until[key] = max(self.until.get(key, 0.0), time.monotonic() + wait)
        stats = self.crawler.stats
        stats.inc_value(f"dealwatch/throttled/{response.status}")
        stats.inc_value("dealwatch/throttled/seconds", round(wait, 1))
        if response.status == 429:
            self.hits[key] = self.hits.get(key, 0) + 1
            if self.hits[key] >= 2 and key not in self.slowed:
                self.slowed.add(key)
                log.warning("%s: repeated 429 answers; at least %.1f s between its requests for the rest of the run",
                            key, self.slow_delay)
        log.warning("%s answered %d (Retry-After: %s): waiting %.1f s before trying %s again",
                    key, response.status, value or "none", wait, request.url)
        retry = request.replace(dont_filter=True, priority=request.priority + 1)
        retry.meta["retry_after_times"] = times + 1
        return retry


class ConsentRedirectMiddleware:
    """A redirect to a consent host (``consent.google.com/m?continue=…``, Yahoo's consent page) is
    not followed: the page behind it is a consent wall (:class:`ConsentWall`, dropped as ``consent_wall``)."""

    def process_response(self, request, response, spider=None):
        from crawler import walls
        if response.status in (301, 302, 303, 307, 308) and b"Location" in response.headers:
            target = urljoin(request.url, response.headers[b"Location"].decode("latin-1"))
            if walls.is_consent_host(target):
                raise ConsentWall(f"consent_wall: redirected to {target[:200]}")
        return response


class SameSiteMetaRefreshMiddleware(MetaRefreshMiddleware):
    """``<meta http-equiv="refresh">`` followed only inside the source's domains (a search source:
    inside the site of the page), and counted (``dealwatch/meta_refresh/followed|refused``); a
    refresh to a consent host is a consent wall."""

    def __init__(self, settings, crawler=None):
        super().__init__(settings)
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        mw = cls(crawler.settings, crawler)
        return mw

    def process_response(self, request, response, spider=None):
        from scrapy.http import HtmlResponse
        from scrapy.utils.response import get_meta_refresh

        from crawler import walls
        if request.meta.get("dont_redirect") or not isinstance(response, HtmlResponse):
            return response
        interval, url = get_meta_refresh(response, ignore_tags=self._ignore_tags)
        if not url or interval >= self._maxdelay:
            return response
        source = _source(spider or (self.crawler.spider if self.crawler else None))
        stats = self.crawler.stats if self.crawler else None
        if walls.is_consent_host(url):
            raise ConsentWall(f"consent_wall: meta refresh to {url[:200]}")
        if source is not None:
            inside = _site(_host(url)) == _site(_host(request.url)) if source.is_search else source.allows(url)
            if not inside:
                if stats:
                    stats.inc_value("dealwatch/meta_refresh/refused")
                log.info("meta refresh from %s to %s not followed: outside the source's domains", request.url, url)
                return response
        result = super().process_response(request, response)
        if stats and result is not response:
            stats.inc_value("dealwatch/meta_refresh/followed")
        return result
