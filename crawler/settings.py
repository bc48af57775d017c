"""Scrapy settings, built in one place from the DealWatch :class:`~dealwatch.settings.Settings`.

Politeness and limits come from the typed settings (``DEALWATCH_*`` environment variables):
User-Agent with the contact URL, robots.txt obeyed (plus Crawl-delay), AutoThrottle, a
per-domain concurrency limit, maximum page size, timeouts, retries with backoff for 5xx
and timeouts only. The components of a crawl — extensions, downloader middlewares, item
pipelines — are wired here by configuration. The project's own Scrapy settings are named
``DW_*`` (``DEALWATCH_*`` names are environment variables of the typed settings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dealwatch.settings import Settings


def scrapy_settings(dw: Settings, run_id: str, stats_file: Path | None = None) -> dict[str, Any]:
    """The Scrapy settings of one crawl process (every crawler, one per source, starts from them)."""
    return {
        # the crawl's own settings, read by its components
        "DW_SETTINGS": dw,
        "DW_RUN_ID": run_id,
        "DW_STATS_FILE": str(stats_file) if stats_file else None,
        "DW_STATS_INTERVAL": 1.0,     # seconds between rewrites of the stats file
        "BOT_NAME": "dealwatch",
        "USER_AGENT": dw.user_agent.format(contact_url=dw.contact_url),
        "ROBOTSTXT_OBEY": True,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,     # no control port: runs are managed by the scheduler
        "LOG_LEVEL": "INFO",
        "LOG_FORMATTER": "crawler.logformatter.QuietDropsLogFormatter",
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        # politeness
        "CONCURRENT_REQUESTS": max(16, dw.concurrent_requests_per_domain * 4),
        "CONCURRENT_REQUESTS_PER_DOMAIN": dw.concurrent_requests_per_domain,
        "DOWNLOAD_DELAY": dw.download_delay,
        "DOWNLOAD_DELAY_JITTER": 0.5,       # ±50 % around the delay
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": dw.autothrottle_start_delay,
        "AUTOTHROTTLE_MAX_DELAY": dw.autothrottle_max_delay,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(dw.concurrent_requests_per_domain),
        # limits
        "DOWNLOAD_MAXSIZE": dw.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "DOWNLOAD_TIMEOUT": dw.download_timeout,
        "REDIRECT_MAX_TIMES": 5,
        "DNS_TIMEOUT": min(10.0, dw.download_timeout),
        # retries: 5xx and timeouts with backoff, never 4xx (DNS failures and refused
        # connections are not retried: a dead host stays dead for the next seconds)
        "RETRY_ENABLED": dw.retry_times > 0,
        "RETRY_TIMES": dw.retry_times,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524],
        "RETRY_EXCEPTIONS": [
            "scrapy.exceptions.DownloadTimeoutError",
            "scrapy.exceptions.DownloadFailedError",
            "scrapy.exceptions.ResponseDataLossError",
            "twisted.internet.defer.TimeoutError",
            "twisted.internet.error.TimeoutError",
            "twisted.internet.error.TCPTimedOutError",
            "twisted.internet.error.ConnectionDone",
            "twisted.internet.error.ConnectionLost",
        ],
        "DW_RETRY_BACKOFF": dw.retry_backoff,
        "DOWNLOADER_MIDDLEWARES": {
            "crawler.middlewares.SourceMannersMiddleware": 390,     # headers, cookies, proxy of the source
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "crawler.middlewares.BackoffRetryMiddleware": 550,
            "crawler.middlewares.RetryAfterMiddleware": 560,        # 429/503 + Retry-After: the domain waits
            "crawler.middlewares.BotProtectionMiddleware": 570,     # 401/403 in a row, challenge pages: blocked
            "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
            "crawler.middlewares.SameSiteMetaRefreshMiddleware": 580,
            "crawler.middlewares.ConsentRedirectMiddleware": 640,   # a redirect to a consent host: consent_wall
            "crawler.middlewares.RedirectLoopMiddleware": 650,
        },
        # the crawl's state (known-URL store, WARC writer), its report (counts in crawler.stats,
        # the stats file) and robots.txt's Crawl-delay
        "EXTENSIONS": {
            # disabled by REMOTE_CONTROL_ENABLED anyway, but listed it is imported, and with it aiohttp
            # (a tenth of the crawl process' start-up CPU, ~20 MB)
            "scrapy.extensions.remote_control.RemoteControl": None,
            "crawler.extensions.CrawlState": 100,
            "crawler.extensions.RunReport": 110,
            "crawler.extensions.RobotsCrawlDelay": 120,
        },
        # the pipeline: archive raw page -> extract + enrich (process pool) -> bulk index
        "ITEM_PIPELINES": {
            "crawler.pipelines.RawArchivePipeline": 100,
            "crawler.pipelines.ExtractPipeline": 200,
            "crawler.pipelines.IndexPipeline": 300,
        },
        # items of ONE response processed in parallel: an article page yields one item; Scrapy
        # starts this many tasks for every response's output, so 100 cost ~10 % of the crawl
        # process' CPU for nothing
        "CONCURRENT_ITEMS": 4,
        # response bytes a crawler keeps waiting for the pipeline before it stops downloading
        # (Scrapy's default): real article pages are ~300 KB, so ~17 pages per source queue for
        # the workers; 20 MB per source held ~70 each and most of the crawl process' memory
        "SCRAPER_SLOT_MAX_ACTIVE_SIZE": 5_000_000,
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.DownloaderAwarePriorityQueue",
    }


def source_settings(time_limit: float, source=None) -> dict[str, Any]:
    """What differs between the crawlers of one process: each source's time limit (seconds)
    closes only its own spider, with finish reason ``closespider_timeout``; a source's own
    ``user_agent`` is sent with its requests and matched against robots.txt."""
    out: dict[str, Any] = {"CLOSESPIDER_TIMEOUT": float(time_limit)}
    if source is not None and source.user_agent:
        out["USER_AGENT"] = source.user_agent
    return out
