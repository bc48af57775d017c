"""Scrapy extensions of a crawl: its state, its report, and the Crawl-delay of robots.txt.

Each crawler (one per source) builds them ``from_crawler``, as wired in
:mod:`crawler.settings` (``EXTENSIONS``); the spider and the item pipelines reach them through
``crawler.get_extension(...)``.

- :class:`CrawlState` owns the per-crawl state: the known-URL store (what is archived, what
  is due), the link state (resolved search links, sightings: :mod:`crawler.link_state`) and
  the WARC writer of this source and run.
- :class:`RunReport` records errors and drops in ``crawler.stats`` (``dealwatch/errors/<kind>``,
  ``dealwatch/dropped/<reason>``) with a few sample URLs, and writes the source's entry of the
  stats file (:mod:`crawler.run_report`) every ``DW_STATS_INTERVAL`` seconds from
  ``engine_started`` on, and once more when the spider closes.
- :class:`RobotsCrawlDelay` takes ``Crawl-delay`` from each parsed robots.txt (the
  ``robots_parsed`` signal, :meth:`RobotParser.crawl_delay`) and holds the host's download
  slot to it; Scrapy's robots middleware itself only allows or disallows.
"""

from __future__ import annotations

import logging

from scrapy import signals
from scrapy.utils.asyncio import create_looping_call

from crawler import run_report
from crawler.known_urls import KnownUrls
from crawler.link_state import LinkState
from indexer.raw_pages import WarcWriter

log = logging.getLogger(__name__)


def forget_lost_source(settings, known: KnownUrls, source: str) -> None:
    """If the index lost a source's documents (deleted, reset), the store must not keep skipping
    its pages: forget the source so this run fetches them again."""
    from indexer.archive import Archive
    from indexer.errors import ArchiveError

    indexed = known.count(source=source, status="indexed")
    if not indexed:
        return
    try:
        archive = Archive(settings)   # a search source's articles may belong to their publishers' sources now
        n = archive.count(source=source) or archive.count(found_via=f"search:{source}")
    except ArchiveError as exc:  # the index pipeline will report the outage itself
        log.warning("cannot check the index for %s: %s", source, exc)
        return
    if n == 0:
        log.warning("%s: the index holds none of its %d archived pages; fetching them again", source, indexed)
        known.forget_source(source)


class CrawlState:
    """The known-URL store and the WARC writer of one source's crawl."""

    def __init__(self, crawler):
        self.settings = crawler.settings["DW_SETTINGS"]
        self.run_id = crawler.settings["DW_RUN_ID"]
        self.known = KnownUrls.from_settings(self.settings)
        self.links = LinkState.from_settings(self.settings)
        self.warc: WarcWriter | None = None
        self.storage_error: str | None = None   # why raw pages could not be kept (the crawl stopped)

    @classmethod
    def from_crawler(cls, crawler):
        state = cls(crawler)
        crawler.signals.connect(state.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(state.spider_closed, signal=signals.spider_closed)
        return state

    def spider_opened(self, spider) -> None:
        name = spider.source.name
        forget_lost_source(self.settings, self.known, name)
        self.warc = WarcWriter(self.settings.data_dir, self.settings.raw_dir, name, self.run_id)

    def spider_closed(self, spider, reason: str) -> None:
        if self.warc is not None:
            self.warc.close()
        self.known.close()
        self.links.close()


class RunReport:
    """What one source's crawl did, in ``crawler.stats``, with samples, written to the stats file."""

    def __init__(self, crawler):
        self.stats = crawler.stats
        self.path = crawler.settings.get("DW_STATS_FILE")
        self.run_id = crawler.settings["DW_RUN_ID"]
        self.interval = crawler.settings.getfloat("DW_STATS_INTERVAL")
        self.samples: list[dict[str, str]] = []       # the first MAX_SAMPLES errors and drops
        self.first_samples: dict[str, str] = {}       # kind or reason -> its first URL
        self.source: str | None = None
        self.task = None

    @classmethod
    def from_crawler(cls, crawler):
        report = cls(crawler)
        crawler.signals.connect(report.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(report.engine_started, signal=signals.engine_started)
        crawler.signals.connect(report.spider_closed, signal=signals.spider_closed)
        return report

    # --- recording (called by the spider and the pipelines) --------------------------
    def error(self, kind: str, url: str, message: str = "") -> None:
        self.stats.inc_value(run_report.ERRORS + kind)
        self._sample(kind, url, message)

    def dropped(self, reason: str, url: str, message: str = "") -> None:
        self.stats.inc_value(run_report.ARTICLES + "dropped")
        self.stats.inc_value(run_report.DROPPED + reason)
        self._sample(reason, url, message)

    def _sample(self, kind: str, url: str, message: str) -> None:
        self.first_samples.setdefault(kind, url)
        if len(self.samples) < run_report.MAX_SAMPLES:
            self.samples.append({"url": url, "kind": kind, "message": message[:300]})

    def entry(self, finish_reason: str | None = None) -> dict:
        return run_report.source_entry(self.stats.get_stats(), self.samples, self.first_samples, finish_reason)

    # --- the stats file --------------------------------------------------------------
    def spider_opened(self, spider) -> None:
        self.source = spider.source.name

    def engine_started(self) -> None:
        if self.path and self.interval > 0:
            self.task = create_looping_call(self.write)
            self.task.start(self.interval, now=False)

    def write(self, finish_reason: str | None = None) -> None:
        if self.path and self.source:
            run_report.update_source(self.path, self.run_id, self.source, self.entry(finish_reason))

    def spider_closed(self, spider, reason: str) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        self.write(reason)


class RobotsCrawlDelay:
    """Holds each host's download slot to the Crawl-delay its robots.txt asks for."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.user_agent = crawler.settings.get("ROBOTSTXT_USER_AGENT") or crawler.settings.get("USER_AGENT")
        self.delays: dict[str, float] = {}     # download slot key (the host) -> seconds

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler)
        crawler.signals.connect(ext.robots_parsed, signal=signals.robots_parsed)
        crawler.signals.connect(ext.request_reached_downloader, signal=signals.request_reached_downloader)
        return ext

    def robots_parsed(self, robotparser, request) -> None:
        try:
            delay = robotparser.crawl_delay(self.user_agent)
        except ValueError as exc:  # a malformed Crawl-delay line: ignore it, but say so
            log.warning("could not read Crawl-delay for %s: %s", request.url, exc)
            return
        if delay:
            key = self.crawler.engine.downloader.get_slot_key(request)
            self.delays[key] = max(float(delay), self.delays.get(key, 0.0))
            log.info("robots.txt Crawl-delay for %s: %.1f s", key, delay)

    def request_reached_downloader(self, request, spider=None) -> None:
        key = request.meta.get("download_slot")
        delay = self.delays.get(key)
        if delay is None:
            return
        request.meta["autothrottle_dont_adjust_delay"] = True   # AutoThrottle must not lower it
        slot = self.crawler.engine.downloader.slots.get(key)
        if slot is not None and slot.delay < delay:
            slot.delay = delay
