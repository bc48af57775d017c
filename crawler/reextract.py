"""Rebuild documents from the raw pages kept in WARC files, without fetching anything.

Used after a trafilatura upgrade or an extraction setting change: every response record
under ``<raw_dir>/<source>/*.warc.gz`` goes through the same path as a crawl — the worker
pool's :func:`crawler.worker.process_page` (extract + ``indexer.documents.enriched_document``) and
the archive's ``write`` in batches. When a page was fetched several times, its latest
record wins (WARC files are named ``<YYYYMMDD>-<run id>`` and read in order).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from collections import deque
from typing import Callable, Iterable, Iterator

from crawler import worker
from crawler.canonical import url_key
from indexer.raw_pages import iter_pages, read_record

log = logging.getLogger(__name__)


@dataclass
class ReextractResult:
    pages: int = 0
    written: Counter = field(default_factory=Counter)      # new / updated / unchanged / failed
    dropped: Counter = field(default_factory=Counter)      # reason -> count
    sources: list[str] = field(default_factory=list)


def source_languages(settings, archive) -> dict[str, str]:
    """Source name -> language (for pages without a lang): as the archive's source registry has it
    (the crawls that fetched the pages registered their sources), else from ``settings.sources_file``."""
    from crawler.sources import SourcesError, load_sources

    langs = {name: s.language for name, s in archive.registered_sources().items() if s.language}
    try:
        for s in load_sources(settings.sources_file):
            langs.setdefault(s.name, s.language)
    except SourcesError as exc:
        log.debug("no languages from %s: %s", settings.sources_file, exc)
    return langs


@dataclass(frozen=True)
class _Pointer:
    path: Path
    offset: int
    length: int


def latest_records(settings, source: str) -> list[_Pointer]:
    """Where the latest stored response of each page of one source is (oldest file first, later
    wins), in file order. Only pointers are kept, not page bodies: archives can be large."""
    latest: dict[str, _Pointer] = {}
    for path in sorted((Path(settings.raw_dir) / source).glob("*.warc.gz")):
        try:
            for page in iter_pages(settings.data_dir, path):
                latest[url_key(page.url)] = _Pointer(path, page.offset, page.length)
        except Exception as exc:  # a truncated file (killed crawl): keep what was readable, say so
            log.warning("stopped reading %s after a damaged record: %s", path, exc)
    return sorted(latest.values(), key=lambda p: (p.path.name, p.offset))


def _tasks(settings, source: str, language: str) -> Iterator[worker.PageTask]:
    for ptr in latest_records(settings, source):
        rel = ptr.path.relative_to(settings.data_dir) if ptr.path.is_relative_to(settings.data_dir) else ptr.path
        page = read_record(settings.data_dir, str(rel), ptr.offset)
        yield worker.PageTask(url=page.url, body=page.body, source=source, language=language,
                              encoding=page.encoding, raw_warc=page.warc, raw_offset=ptr.offset, raw_length=ptr.length,
                              crawled_at=page.fetched_at)


def _bounded(pool, tasks: Iterable[worker.PageTask], window: int) -> Iterator[worker.PageResult]:
    """Results in order, with at most ``window`` pages in flight (memory stays flat)."""
    pending: deque = deque()
    for task in tasks:
        pending.append(pool.submit(worker.process_page, task))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def reextract(settings, sources: list[str] | None = None, workers: int | None = None,
              batch_size: int | None = None, on_progress: Callable[[int], None] | None = None) -> ReextractResult:
    from indexer.archive import Archive

    raw_dir = Path(settings.raw_dir)
    if sources:
        names = list(sources)
    else:
        names = sorted(p.name for p in raw_dir.iterdir() if p.is_dir()) if raw_dir.is_dir() else []
    archive = Archive(settings)
    archive.ensure()
    langs = source_languages(settings, archive)
    result = ReextractResult(sources=list(names))
    batch_size = batch_size or settings.index_batch_size
    if workers is None:
        workers = worker.worker_count(settings)
    pool = worker.make_pool(settings.replace(extract_workers=workers)) if workers > 1 else None
    try:
        for name in names:
            tasks = _tasks(settings, name, langs.get(name, ""))
            results = _bounded(pool, tasks, 4 * workers) if pool else \
                (worker.process_page(t, settings) for t in tasks)
            docs = []
            for r in results:
                result.pages += 1
                if on_progress:
                    on_progress(result.pages)
                if r.dropped:
                    result.dropped[r.dropped] += 1
                    continue
                docs.append(r.doc)
                if len(docs) >= batch_size:
                    _write(archive, docs, result)
                    docs = []
            _write(archive, docs, result)
    finally:
        if pool:
            pool.shutdown()
    archive.refresh()
    return result


def _write(archive, docs, result: ReextractResult) -> None:
    if docs:
        for k, v in archive.write(docs).as_dict().items():
            result.written[k] += v
