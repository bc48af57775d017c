"""Bulk indexing of enriched articles: rates by chunk size and refresh setting, and archive loads.

Two write paths are measured with documents from :mod:`bench.archive`:
- ``store``: :func:`indexer.store.write_documents`, the pipeline's own path (mget of the
  previous versions, then bulk), at the configured chunk size;
- ``bulk``: plain ``streaming_bulk`` at several chunk sizes, with the index's refresh
  interval at 1 s (the default while crawling) and at -1 (bulk loads).
:func:`ensure_archive` loads (or tops up: generation is deterministic) the large archives
used by the search and export benchmarks, with refresh off and no replicas during the load.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from elasticsearch import Elasticsearch
from elasticsearch.helpers import parallel_bulk, streaming_bulk

from bench.archive import ArchiveGenerator
from dealwatch.settings import Settings
from indexer import store

log = logging.getLogger(__name__)


def prefixed(settings: Settings, label: str) -> Settings:
    return settings.replace(index_prefix=f"{settings.index_prefix}bench-{label}-")


def fresh(es: Elasticsearch, settings: Settings) -> str:
    store.drop_all(es, settings)
    return store.ensure_index(es, settings)


def set_refresh(es: Elasticsearch, index: str, interval: str) -> None:
    es.indices.put_settings(index=index, settings={"index": {"refresh_interval": interval,
                                                             "number_of_replicas": 0}})


def _actions(index: str, docs: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        yield {"_op_type": "index", "_index": index, "_id": doc["id"], "_source": doc}


def bulk_load(es: Elasticsearch, index: str, docs: Iterable[dict[str, Any]], chunk_size: int,
              threads: int = 1, progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Bulk-index; returns (ok, failed)."""
    ok = failed = 0
    if threads > 1:
        results = parallel_bulk(es, _actions(index, docs), thread_count=threads, chunk_size=chunk_size,
                                raise_on_error=False, raise_on_exception=False, queue_size=threads)
    else:
        results = streaming_bulk(es, _actions(index, docs), chunk_size=chunk_size, max_retries=5,
                                 initial_backoff=2, raise_on_error=False, raise_on_exception=False)
    for success, item in results:
        if success:
            ok += 1
        else:
            failed += 1
            if failed <= 3:
                log.error("bulk item failed: %s", item)
        if progress and (ok + failed) % 10_000 == 0:
            progress(ok + failed)
    return ok, failed


@dataclass
class Trial:
    path: str
    chunk_size: int
    refresh: str
    threads: int
    docs: int
    seconds: float
    failed: int

    @property
    def rate(self) -> float:
        return self.docs / self.seconds if self.seconds else 0.0


def run_trials(es: Elasticsearch, settings: Settings, gen: ArchiveGenerator, docs: int,
               chunk_sizes: Iterable[int] = (250, 500, 1000, 2000)) -> list[Trial]:
    """Index ``docs`` generated documents per trial into a fresh ``bench-idx-`` index."""
    s = prefixed(settings, "idx")
    trials: list[Trial] = []
    # documents are generated beforehand so the trial measures the write, not the generator
    batch = list(gen.documents(docs, first=10_000_000))
    plan = [("bulk", c, r, 1) for c in chunk_sizes for r in ("1s", "-1")]
    plan += [("bulk", max(chunk_sizes) // 2, "-1", 2)]
    plan += [("store", settings.bulk_chunk_size, "1s", 1)]
    for path, chunk, refresh, threads in plan:
        index = fresh(es, s)
        set_refresh(es, index, refresh)
        start = time.perf_counter()
        if path == "store":
            failed = 0
            for i in range(0, len(batch), 2000):  # the pipeline writes in batches
                failed += store.write_documents(es, s.replace(bulk_chunk_size=chunk), batch[i:i + 2000]).failed
        else:
            _, failed = bulk_load(es, index, batch, chunk, threads)
        es.indices.refresh(index=index)
        seconds = time.perf_counter() - start
        trials.append(Trial(path, chunk, refresh, threads, len(batch), seconds, failed))
        log.info("indexing %s chunk=%d refresh=%s threads=%d: %.0f docs/s", path, chunk, refresh, threads,
                 trials[-1].rate)
    store.drop_all(es, s)
    return trials


def archive_count(es: Elasticsearch, settings: Settings) -> int:
    if not es.indices.exists_alias(name=settings.articles_alias):
        return 0
    es.indices.refresh(index=settings.articles_alias)
    return es.count(index=settings.articles_alias)["count"]


@dataclass
class ArchiveLoad:
    label: str
    docs: int
    loaded_now: int
    seconds: float
    store_bytes: int

    @property
    def rate(self) -> float:
        return self.loaded_now / self.seconds if self.seconds else 0.0

    @property
    def bytes_per_1000(self) -> float:
        return self.store_bytes / self.docs * 1000 if self.docs else 0.0


def store_bytes(es: Elasticsearch, settings: Settings) -> int:
    stats = es.indices.stats(index=settings.articles_alias, metric="store")
    return int(stats["_all"]["primaries"]["store"]["size_in_bytes"])


def ensure_archive(es: Elasticsearch, settings: Settings, gen: ArchiveGenerator, docs: int, label: str,
                   chunk_size: int = 1000, threads: int = 2) -> ArchiveLoad:
    """An archive of exactly ``docs`` generated documents under the ``bench-<label>-`` prefix."""
    s = prefixed(settings, label)
    have = archive_count(es, s)
    if have > docs:
        fresh(es, s)
        have = 0
    index = store.ensure_index(es, s)
    loaded = 0
    start = time.perf_counter()
    # Document n is always the same document, so a load resumes at the count. Writes lost
    # in the middle (a node restart) leave holes; they are filled with documents numbered
    # after the last one generated, so the archive ends with exactly ``docs`` documents.
    next_n = have
    for _ in range(5):
        if have >= docs:
            break
        log.info("loading archive %s: %d -> %d documents", label, have, docs)
        set_refresh(es, index, "-1")
        try:
            ok, failed = bulk_load(es, index, gen.documents(docs - have, first=next_n), chunk_size, threads,
                                   progress=lambda n: log.info("archive %s: +%d", label, n))
            loaded += ok
            next_n += docs - have
            if failed:
                log.error("archive %s: %d documents failed; they are replaced in the next pass", label, failed)
        finally:
            set_refresh(es, index, "1s")
            es.indices.refresh(index=index)
        have = archive_count(es, s)
    seconds = time.perf_counter() - start
    return ArchiveLoad(label, archive_count(es, s), loaded, seconds, store_bytes(es, s))
