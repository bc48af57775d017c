"""Item pipelines: raw page -> WARC -> (worker pool) Article document -> the archive.

1. :class:`RawArchivePipeline` appends the page to the run's WARC and marks it ``fetched`` in
   the known-URL store (so a killed crawl re-reads it from there instead of fetching it again).
2. :class:`ExtractPipeline` sends the page to the worker process pool (extraction +
   enrichment, :mod:`crawler.worker`) and awaits the answer without blocking the reactor.
3. :class:`IndexPipeline` buffers documents and writes them through the archive's front door
   (:meth:`indexer.archive.Archive.write`) in a thread, every ``index_batch_size`` documents or
   ``index_flush_seconds``; it counts new/updated/unchanged/failed from the archive's answer
   and marks the written pages ``indexed``.

Each pipeline instance serves one crawler (one source) and reaches the crawl's state (known-URL
store, WARC writer) and its report through the crawler's extensions
(:mod:`crawler.extensions`); the worker pool is shared by all crawlers of the process.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from concurrent.futures.process import BrokenProcessPool
from functools import cached_property
from typing import Any

from scrapy.exceptions import DropItem

from crawler import run_report, worker
from crawler.canonical import url_key
from crawler.extensions import CrawlState, RunReport
from crawler.items import PageItem
from dealwatch.dates import utcnow
from indexer.archive import Archive
from indexer import raw_pages
from indexer.errors import ArchiveError
from indexer.raw_pages import RawStorageError

log = logging.getLogger(__name__)


class _SharedPool:
    """One process pool per crawl process, started when the first page needs it (a run that
    finds nothing new never pays for worker start-up) and closed by the last spider.

    The start runs in a thread: the first submission to a fork-server pool waits seconds for
    the server to preload the enrichment data, and on the reactor thread that wait would stop
    every download, archive write and bulk write of the crawl (pages fetched but not yet
    archived would pile up, and a kill then loses them)."""

    pool = None
    starting: asyncio.Future | None = None
    users = 0

    @classmethod
    def acquire(cls) -> None:
        cls.users += 1

    @staticmethod
    def _start(settings):
        pool = worker.make_pool(settings)
        pool.submit(int).result()   # the fork server is up and one worker answers
        return pool

    @classmethod
    async def get(cls, settings):
        if cls.pool is None:
            if cls.starting is None:
                cls.starting = asyncio.ensure_future(asyncio.to_thread(cls._start, settings))
            starting = cls.starting
            try:
                pool = await asyncio.shield(starting)
            finally:
                if cls.starting is starting and starting.done():
                    cls.starting = None
            if cls.pool is None:
                cls.pool = pool
        return cls.pool

    @classmethod
    def discard(cls, pool) -> None:
        """Drop a broken pool (a worker died); the next ``get`` starts a fresh one."""
        if cls.pool is pool:
            cls.pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    @classmethod
    async def release(cls) -> None:
        cls.users -= 1
        if cls.users > 0:
            return
        cls.users = 0
        if cls.starting is not None:  # closed while the pool was still starting
            try:
                await asyncio.shield(cls.starting)
            except Exception as exc:  # noqa: BLE001 - a pool that failed to start has nothing to close
                log.warning("the extraction pool failed to start: %s", exc)
            cls.starting = None
        pool, cls.pool = cls.pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


async def run_in_pool(settings, fn, *args):
    """``fn(*args)`` in the shared worker pool without blocking the reactor. When a worker dies
    (out of memory, a crash in lxml) the pool breaks for every task in flight: it is replaced
    and the call is tried once more, so one bad page cannot stop the rest of the crawl."""
    for attempt in (1, 2):
        pool = await _SharedPool.get(settings)
        try:
            return await asyncio.wrap_future(pool.submit(fn, *args))
        except BrokenProcessPool:
            _SharedPool.discard(pool)
            if attempt == 2:
                raise


class _Stage:
    """A pipeline stage of one crawler: its settings, its crawl state and its report."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.dw = crawler.settings["DW_SETTINGS"]

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    @cached_property
    def state(self) -> CrawlState:
        return self.crawler.get_extension(CrawlState)

    @cached_property
    def report(self) -> RunReport:
        return self.crawler.get_extension(RunReport)

    def count(self, key: str, n: int = 1) -> None:
        self.crawler.stats.inc_value(key, n)


class RawArchivePipeline(_Stage):
    """Appends each fetched page to the run's WARC before anything else happens to it.

    The known-URL store points at the record (status ``fetched``) before its bytes are written:
    a crawl killed between the two leaves a pointer at an incomplete record, which the next run
    cannot read back and so fetches again; a record that was written whole is never fetched
    again. A storage failure (disk full, file too large) undoes the pointer, counts the page as
    a ``storage`` error and stops this source's crawl (finish reason ``storage_error``): every
    further page would be fetched only to be lost.
    """

    def open_spider(self, spider=None) -> None:
        self.lock = asyncio.Lock()   # one writer per WARC file: records are appended in order

    async def process_item(self, item: PageItem) -> PageItem:
        if item.raw_warc is not None:  # recovered from a WARC: already archived
            return item
        try:  # gzip off the reactor thread; file write + SQLite too, one record at a time
            record = await asyncio.to_thread(raw_pages.build_record, item.url, item.status, item.headers,
                                             item.body, item.encoding)
            async with self.lock:
                await asyncio.to_thread(self._archive, item, record)
        except (RawStorageError, sqlite3.OperationalError) as exc:
            self._storage_failed(item, exc)
            raise DropItem(f"not archived: {exc}") from exc
        return item

    def _archive(self, item: PageItem, record: bytes) -> None:
        warc, known = self.state.warc, self.state.known
        path, offset = warc.relative_path, warc.next_offset
        for key in item.keys:
            known.mark_fetched(key, item.source, item.url, path, offset, len(record), item.lastmod, item.fetched_at)
        try:
            item.raw_warc, item.raw_offset, item.raw_length = warc.append(record)
        except RawStorageError:
            for key in item.keys:  # nothing was kept: the next run fetches it
                known.forget(key)
            raise

    def _storage_failed(self, item: PageItem, exc: Exception) -> None:
        if isinstance(exc, RawStorageError):
            message = f"{exc}; crawl stopped: make room there (or set DEALWATCH_RAW_DIR to a larger disk)"
        else:
            message = f"cannot write the known-URL store {self.state.known.path}: {exc}; crawl stopped: make room there"
        self.report.error("storage", item.url, message)
        if self.state.storage_error is None:
            self.state.storage_error = message
            log.error("%s", message)
            asyncio.get_running_loop().create_task(self.crawler.engine.close_spider_async(reason="storage_error"))


class ExtractPipeline(_Stage):
    def open_spider(self, spider=None) -> None:
        _SharedPool.acquire()

    async def close_spider(self, spider=None) -> None:
        await _SharedPool.release()

    async def process_item(self, item: PageItem) -> PageItem:
        task = worker.PageTask(url=item.url, body=item.body, source=item.source, language=item.language,
                               encoding=item.encoding, raw_warc=item.raw_warc, raw_offset=item.raw_offset,
                               raw_length=item.raw_length, crawled_at=item.fetched_at, timezone=item.timezone)
        known = self.state.known
        try:
            result = await run_in_pool(self.dw, worker.process_page, task)
        except Exception as exc:  # a worker died on this page twice: count it, keep crawling
            log.exception("extraction failed for %s", item.url)
            self.report.error("parse", item.url, f"extraction worker failed: {type(exc).__name__}: {exc}")
            for key in item.keys:  # not replayed from the WARC at every run
                known.mark_dropped(key, item.source, item.url, "parse", item.fetched_at, item.lastmod)
            raise DropItem(f"extraction failed: {exc}") from exc
        item.body = b""
        if result.dropped:
            self.report.dropped(result.dropped, item.url, result.message)
            for key in item.keys:
                known.mark_dropped(key, item.source, item.url, result.dropped, item.fetched_at, item.lastmod)
            raise DropItem(f"{result.dropped}: {result.message}")
        if result.message:  # indexed, with a problem worth reporting (enrichment failed)
            self.report.error("enrich", item.url, result.message)
        item.doc = result.doc
        if item.found_via:                       # how the crawl found it; the archive merges the ways
            item.doc["found_via"] = list(item.found_via)
        if item.outlet and not item.doc.get("site_name"):   # a search item named the publisher
            item.doc["site_name"] = item.outlet
        return item


class IndexPipeline(_Stage):
    def open_spider(self, spider=None) -> None:
        self.archive = Archive(self.dw)
        self.archive.ensure()
        self.buffer: list[PageItem] = []
        self.lock = asyncio.Lock()
        self.last_flush = time.monotonic()
        self.ticker = asyncio.get_event_loop().create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.dw.index_flush_seconds))
            if self.buffer and time.monotonic() - self.last_flush >= self.dw.index_flush_seconds:
                # shielded: closing the spider cancels this ticker, never a write half-counted
                await asyncio.shield(self.flush())

    async def process_item(self, item: PageItem) -> dict[str, Any]:
        self.buffer.append(item)
        if len(self.buffer) >= self.dw.index_batch_size:
            await self.flush()
        return {"url": item.url, "id": item.doc["id"] if item.doc else None}

    async def flush(self) -> None:
        async with self.lock:
            batch, self.buffer = self.buffer, []
            self.last_flush = time.monotonic()
            if not batch:
                return
            docs = [it.doc for it in batch]
            try:
                result = await asyncio.to_thread(self.archive.write, docs)
            except ArchiveError as exc:  # the archive cannot answer: count, keep the pages pending for next run
                log.error("writing %d documents failed: %s", len(docs), exc)
                self.count(run_report.ARTICLES + "failed", len(docs))
                for it in batch:
                    self.report.error("index", it.url, f"not written: {type(exc).__name__}: {exc}")
                return
            for kind, n in result.as_dict().items():
                if n:
                    self.count(run_report.ARTICLES + kind, n)
            now = utcnow()
            for it in batch:
                doc = it.doc
                failure = result.failures.get(doc["id"])
                if failure is not None:  # left pending in the known-URL store: retried next run
                    self.report.error("index", it.url, failure)
                    continue
                keys = [*it.keys, url_key(doc["canonical_url"])]
                self.state.known.mark_indexed(keys, it.source, it.url, doc["canonical_url"], doc["id"],
                                              doc["content_hash"], doc.get("published_at"), it.fetched_at or now,
                                              it.raw_warc, it.raw_offset, it.raw_length)

    async def close_spider(self, spider=None) -> None:
        self.ticker.cancel()
        await self.flush()
        await asyncio.to_thread(self.archive.refresh)
