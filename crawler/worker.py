"""The CPU stage: extraction + enrichment of raw pages, run in a pool of worker processes.

The Scrapy process only downloads, archives and writes; the heavy work (trafilatura, then
``indexer.documents.enriched_document``) happens here, in ``extract_workers`` processes forked from a
``forkserver`` (a fresh interpreter: nothing of Scrapy or the reactor is inherited) that has
imported :mod:`crawler.worker_preload`, so the dictionaries and seeds are loaded once per crawl
process and shared by its workers. A task is small: the page bytes, the URL, the
source's name and language, the charset and the WARC pointer. The answer is the finished
document (a dict) or the reason the page was dropped.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dealwatch.processes import die_with_parent

log = logging.getLogger(__name__)

_settings = None


@dataclass(frozen=True)
class PageTask:
    url: str
    body: bytes
    source: str
    language: str = ""
    encoding: str | None = None
    raw_warc: str | None = None
    raw_offset: int | None = None
    raw_length: int | None = None
    crawled_at: datetime | None = None
    timezone: str = ""              # the source's zone for dates written without one


@dataclass(frozen=True)
class PageResult:
    url: str
    doc: dict[str, Any] | None = None
    dropped: str | None = None      # reason
    message: str = ""


def _release_fork_server() -> None:
    """Close this worker's copy of the write end of the fork server's "alive" pipe.

    The fork server exits when it reads EOF on that pipe, i.e. when every holder of its write
    end is gone. multiprocessing hands a copy to every process the server forks (so that they
    could start processes through it themselves, which a worker never does): while a worker
    holds it, the server never sees the crawl process die, and the workers (killed only with
    the server, see :func:`die_with_parent`) never die either. Without the copies, a crawl
    process killed by anything (SIGKILL, the OOM killer, the supervisor's kill after its grace
    period) takes the server with it, the server its workers, and the resource tracker ends
    when the last of them closed its pipe.
    """
    from multiprocessing import forkserver

    server = forkserver._forkserver  # the module's one ForkServer (no public API for this fd)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass
        server._forkserver_alive_fd = None


def _init_worker(settings) -> None:
    global _settings
    parent = os.getppid()
    die_with_parent()  # the parent is the fork server, which exits with the crawl process
    if parent == 1 or os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    _release_fork_server()
    _settings = settings
    from dealwatch.settings import set_settings
    set_settings(settings)


def process_page(task: PageTask, settings=None) -> PageResult:
    """Extract and enrich one page (in a worker process, or in-process when called directly)."""
    from crawler.extract import Dropped, extract_article
    from indexer.documents import enriched_document

    settings = settings or _settings
    if settings is None:
        from dealwatch.settings import get_settings
        settings = get_settings()
    result = extract_article(task.body, task.url, task.source, task.language, encoding=task.encoding,
                             min_text_chars=settings.min_text_chars, mode=settings.extraction_mode,
                             crawled_at=task.crawled_at, timezone=task.timezone)
    if isinstance(result, Dropped):
        return PageResult(task.url, dropped=result.reason, message=result.message)
    result.raw_warc, result.raw_offset, result.raw_length = task.raw_warc, task.raw_offset, task.raw_length
    try:
        doc = enriched_document(result, settings)
    except Exception as exc:  # enrichment failed on this text: keep the article un-enriched, report it
        log.warning("enrichment failed for %s: %s: %s", task.url, type(exc).__name__, exc)
        from indexer.schema import article_to_document
        return PageResult(task.url, doc=article_to_document(result),
                          message=f"enrichment failed (indexed without it; run reenrich): {type(exc).__name__}: {exc}")
    return PageResult(task.url, doc=doc)


def worker_count(settings) -> int:
    return settings.extract_workers or os.cpu_count() or 1


def make_pool(settings) -> ProcessPoolExecutor:
    """A pool of warm, clean worker processes (forked from a fork server that preloaded the
    enrichment data; no Scrapy state, no reactor inherited)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["crawler.worker_preload"])
    return ProcessPoolExecutor(max_workers=worker_count(settings), mp_context=context,
                               initializer=_init_worker, initargs=(settings,))
