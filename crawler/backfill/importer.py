"""Importing one WARC file: records -> filters -> prefilter -> the crawl's extraction -> the archive.

:func:`import_file` is the unit of work of every runner (the local one and the Dask one): it reads
one file from its checkpoint on and takes each page through the same path as a crawled page —
:func:`crawler.extract.extract_article` with the crawl's settings, then
:func:`indexer.documents.enriched_document`, as :func:`crawler.worker.process_page` does (with the
prefilter, the extracted text is checked once more between the two), then the archive's
``write`` (near-duplicates, idempotent versioned writes) — with the page's provenance added
(``found_via: import``, ``import_warc`` and ``import_offset``) and its HTTP response copied into the
raw-pages store (:class:`indexer.raw_pages.WarcWriter`), so the article page's "raw page" view
works for it as for a crawled one.

The checkpoint advances only over durable work: after a batch of documents was acknowledged, it
records the offset of the next record (everything before it is written or skipped), so a process
killed at any moment loses at most the work since its last checkpoint, and the next run writes
those documents again to the same ids with the same content hash: nothing is counted or stored
twice. Every record that is not imported is counted with its reason. Batches are written by a
thread of their own while the next pages are extracted (one batch in flight at a time).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable

from crawler.backfill.filters import ImportOptions, PageSource, SourceMap, host_of
from crawler.backfill.inputs import InputError, WarcInput
from crawler.backfill.prefilter import TopicPrefilter
from crawler.backfill.records import SEEK, Damage, Position, Record, RecordReader
from crawler.canonical import canonicalize
from crawler.extract import Dropped, decode_html, extract_article, looks_binary
from dealwatch.dates import parse_datetime, utcnow
from indexer.documents import enriched_document
from indexer.errors import ArchiveError
from indexer.import_checkpoints import Checkpoint
from indexer.raw_pages import WarcWriter
from indexer.schema import article_to_document

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 5.0            # a checkpoint at least this often while a file is read
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_PAGE_RECORDS = ("response", "revisit")
WRITE_COUNTS = ("new", "updated", "unchanged", "failed")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@lru_cache(maxsize=4)
def _prefilter(watchlist_file: str, topic_file: str, threshold: float) -> TopicPrefilter:
    from indexer.enrich.topic import load_topic
    from indexer.enrich.watchlist import load_watchlist

    return TopicPrefilter(load_watchlist(watchlist_file), load_topic(topic_file), threshold)


def prefilter_for(settings) -> TopicPrefilter:
    """The prefilter of these seeds, built once per process."""
    return _prefilter(str(settings.watchlist_file), str(settings.topic_file), float(settings.relevance_threshold))


@dataclass
class FileResult:
    file: str
    status: str                         # done | failed | skipped (finished before)
    counts: dict[str, int] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0


class _RawStore:
    """The project's WARC store for imported pages: one file per source and import process."""

    def __init__(self, settings, run_id: str):
        self.settings = settings
        self.tag = f"import-{run_id}-{socket.gethostname()}-{os.getpid()}"
        self.writers: dict[str, WarcWriter] = {}

    def write(self, source: str, record: Record) -> tuple[str, int, int]:
        writer = self.writers.get(source)
        if writer is None:
            writer = self.writers[source] = WarcWriter(self.settings.data_dir, self.settings.raw_dir, source, self.tag)
        protocol = "HTTP/1.1"
        return writer.write(record.url, record.status or 200, record.http_headers, record.body or b"", protocol)

    def close(self) -> None:           # after each batch: a long import keeps no file handles open
        for writer in self.writers.values():
            writer.close()


class FileImport:
    """The import of one file (see the module docstring); ``run()`` returns its :class:`FileResult`."""

    def __init__(self, inp: WarcInput, options: ImportOptions, settings, archive, sources: SourceMap,
                 run_id: str, on_checkpoint: Callable[[Checkpoint], None] | None = None):
        self.inp = inp
        self.options = options
        self.settings = settings
        self.archive = archive
        self.sources = sources
        self.run_id = run_id
        self.on_checkpoint = on_checkpoint
        self.prefilter = prefilter_for(settings) if options.prefilter else None
        self.raw = _RawStore(settings, run_id)
        self.counts: Counter = Counter()        # records read and skipped, per reason (the reading thread)
        self.written: Counter = Counter()       # new, updated, unchanged, failed (the writer thread)
        self.docs: list[dict[str, Any]] = []
        self.digests: dict[str, int] = {}      # payload digest -> offset of an HTML response in this file
        self.checkpoint: Checkpoint | None = None
        self._last_checkpoint = 0.0
        self._writer: ThreadPoolExecutor | None = None
        self._in_flight: Future | None = None

    # --- the loop ----------------------------------------------------------------------------
    def run(self) -> FileResult:
        started = time.monotonic()
        cp = self._load_checkpoint()
        if cp.done:
            return FileResult(self.inp.key, "skipped", dict(cp.counts))
        self.checkpoint = cp
        for name, n in cp.counts.items():       # go on counting where the checkpoint stopped
            (self.written if name in WRITE_COUNTS else self.counts)[name] += n
        cp.status, cp.worker, cp.run_id, cp.error = "running", worker_name(), self.run_id, ""
        cp.started_at = cp.started_at or utcnow()
        start = Position(cp.offset, cp.records, cp.mode) if (cp.records or cp.offset) else Position()
        reader = RecordReader(self.inp, start, want_body=self._want_body)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="import-write")
        try:
            last: Record | None = None
            for item in reader:
                if isinstance(item, Damage):
                    self.counts[item.reason] += 1
                    log.warning("%s: %s at offset %s: %s", self.inp.name, item.reason, item.offset, item.message)
                    continue
                if len(self.docs) >= self.settings.index_batch_size or \
                        time.monotonic() - self._last_checkpoint >= CHECKPOINT_SECONDS:
                    self._cut(item, reader.mode)
                self.counts["records"] += 1
                self._handle(item, reader)
                last = item
            self._cut(last, reader.mode, done=True)
            self._wait()
            return FileResult(self.inp.key, "done", self._all_counts(), seconds=time.monotonic() - started)
        except (InputError, OSError, ArchiveError) as exc:   # the file stays resumable from its checkpoint
            return self._failed(exc, started)
        finally:
            self._writer.shutdown(wait=True)
            self.raw.close()

    def _all_counts(self) -> dict[str, int]:
        return {k: v for k, v in (self.counts + self.written).items() if v}

    def _failed(self, exc: Exception, started: float) -> FileResult:
        message = f"{type(exc).__name__}: {exc}"
        log.error("%s: import stopped: %s", self.inp.name, message)
        try:
            self._wait()                            # a batch in flight ends (written or not) before the record
        except Exception as write_exc:  # noqa: BLE001 - already failing; its checkpoint was not advanced
            log.error("%s: the last batch was not written: %s", self.inp.name, write_exc)
        cp = self.checkpoint
        if cp is not None:
            cp.status, cp.error = "failed", message[:2000]
            try:
                self.archive.save_import_checkpoint(cp)   # the last durable position stays as it was
            except Exception as save_exc:  # noqa: BLE001 - the archive is gone too: the old checkpoint stands
                log.error("%s: could not record the failure: %s", self.inp.name, save_exc)
        return FileResult(self.inp.key, "failed", self._all_counts(), error=message,
                          seconds=time.monotonic() - started)

    def _load_checkpoint(self) -> Checkpoint:
        fresh = Checkpoint(file=self.inp.key, options=self.options.signature())
        return self.archive.load_import_checkpoints([fresh.id]).get(fresh.id) or fresh

    # --- writing and checkpoints -----------------------------------------------------------------
    def _cut(self, record: Record | None, mode: str | None, done: bool = False) -> None:
        """Hand the pending documents to the writer with the position reached (``record`` is the next
        to handle, or with ``done`` the last one). One batch is in flight at a time: the next cut waits
        for the previous batch to be written and checkpointed, so extraction goes on meanwhile but
        never runs ahead of the archive by more than a batch."""
        self._wait()
        docs, self.docs = self.docs, []
        self.raw.close()                            # its records are on disk (flushed one by one)
        position = (mode or SEEK, record.offset if (record is not None and record.offset is not None
                                                    and mode == SEEK) else 0,
                    record.ordinal if record is not None else 0)
        self._in_flight = self._writer.submit(self._write_and_checkpoint, docs, Counter(self.counts), position, done)
        self._last_checkpoint = time.monotonic()

    def _wait(self) -> None:
        if self._in_flight is not None:
            future, self._in_flight = self._in_flight, None
            future.result()                         # a failed write raises here, in the reading thread

    def _write_and_checkpoint(self, docs: list[dict[str, Any]], counted: Counter, position, done: bool) -> None:
        """In the writer thread: write a batch, count from the archive's answer, then checkpoint the
        position before which everything is now durable (``counted``: what was counted up to it)."""
        if docs:
            result = self.archive.write(docs)
            for kind, n in result.as_dict().items():
                self.written[kind] += n
            for err in result.errors[:3]:
                log.error("%s: %s", self.inp.name, err)
        cp = self.checkpoint
        if done:
            cp.status, cp.finished_at = "done", utcnow()
            cp.records = max(cp.records, position[2] + 1)
        else:
            cp.mode, cp.offset, cp.records = position
        cp.counts = {k: v for k, v in (counted + self.written).items() if v}
        self.archive.save_import_checkpoint(cp)
        if self.on_checkpoint:
            self.on_checkpoint(cp)

    # --- one record ------------------------------------------------------------------------------
    def _want_body(self, record: Record) -> bool:
        """From its headers alone: is this record a page worth reading? (Else it is counted here.)"""
        record.skip = self._skip_reason(record)
        return record.skip is None

    def _skip_reason(self, record: Record) -> str | None:
        if record.type not in _PAGE_RECORDS:
            return "other_record"           # request, metadata, warcinfo, resource, ...
        if record.truncated:
            return "truncated"
        if record.status is None and record.type == "revisit":
            pass                            # some writers keep no HTTP headers in revisits
        elif record.status is None or not 200 <= record.status < 300:
            return "http_status"
        host = host_of(record.url)
        if not self.options.host_allowed(host):
            return "domain"
        if not self.sources.lookup(host).is_article(record.url):
            return "not_article"
        ctype = record.content_type.split(";", 1)[0].strip().lower()
        if ctype and ctype not in _HTML_TYPES:
            return "not_html"
        if record.content_length > self.settings.max_page_bytes:
            return "too_large"
        if self.options.captured_too_early(record.date):
            return "date"
        return None

    def _handle(self, record: Record, reader: RecordReader) -> None:
        reason = record.skip
        if reason is None and record.type == "revisit":
            record, reason = self._resolve_revisit(record, reader)
        if reason is not None:
            self.counts[reason] += 1
            return
        body = record.body or b""
        if record.payload_digest and record.offset is not None and record.type == "response":
            self.digests.setdefault(record.payload_digest, record.offset)
        if len(body) > self.settings.max_page_bytes:
            self.counts["too_large"] += 1
            return
        if not body or looks_binary(body):
            self.counts["not_html" if body else "no_text"] += 1
            return
        charset = _charset(record.content_type)
        page = decode_html(body, charset)
        if self.prefilter is not None and not self.prefilter.passes(page):
            self.counts["prefilter"] += 1
            return
        self._extract(record, page, charset)

    def _resolve_revisit(self, record: Record, reader: RecordReader) -> tuple[Record, str | None]:
        """A revisit repeats an earlier capture's payload. The same URL again: nothing new (counted).
        Another URL: the payload is read again from the response it refers to, when that one is in
        this file and the file can be entered at an offset."""
        if record.refers_to_uri and canonicalize(record.refers_to_uri) == canonicalize(record.url):
            return record, "revisit"
        offset = self.digests.get(record.payload_digest)
        if offset is None or reader.mode != SEEK:
            return record, "revisit"
        for original in RecordReader(self.inp, Position(offset, 0, SEEK),
                                     want_body=lambda r: r.type == "response"):
            if isinstance(original, Record) and original.type == "response" and original.body is not None:
                record.body = original.body
                record.http_headers = record.http_headers or original.http_headers
                return record, None
            break
        return record, "revisit"

    def _extract(self, record: Record, page: str, charset: str | None) -> None:
        source: PageSource = self.sources.lookup(host_of(record.url))
        self.counts["to_extraction"] += 1
        article = extract_article(page, record.url, source.name, source.language, encoding=charset,
                                  min_text_chars=self.settings.min_text_chars, mode=self.settings.extraction_mode,
                                  crawled_at=record.date or utcnow())
        if isinstance(article, Dropped):
            self.counts[article.reason] += 1
            return
        if not self.options.date_allowed(article.published_at or record.date):
            self.counts["date"] += 1
            return
        if article.lang and not self.options.lang_allowed(article.lang):
            self.counts["lang"] += 1
            return
        if self.prefilter is not None and not self.prefilter.passes_article(article.title, article.text, article.lang):
            self.counts["prefilter_text"] += 1      # the article's own text cannot be relevant: no enrichment
            return
        doc = _enriched(article, self.settings)
        self.counts["extracted"] += 1
        if not self.options.lang_allowed(doc.get("lang")):   # a language the enrichment detected
            self.counts["lang"] += 1
            return
        doc["raw_warc"], doc["raw_offset"], doc["raw_length"] = self.raw.write(source.name, record)
        doc["found_via"] = ["import"]
        doc["import_warc"] = self.inp.location
        if record.offset is not None:
            doc["import_offset"] = record.offset
        self.docs.append(doc)


def _enriched(article, settings) -> dict[str, Any]:
    """The article's document with its enrichment, as the crawl's worker makes it (an article whose
    enrichment fails is kept without it, as there)."""
    try:
        return enriched_document(article, settings)
    except Exception as exc:  # noqa: BLE001 - enrichment failed on this text: keep the article, say so
        log.warning("enrichment failed for %s: %s: %s (indexed without it; run reenrich)", article.url,
                    type(exc).__name__, exc)
        return article_to_document(article)


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


def import_file(inp: WarcInput, options: ImportOptions, settings, archive, sources: SourceMap, run_id: str,
                on_checkpoint: Callable[[Checkpoint], None] | None = None) -> FileResult:
    """Import one file from its checkpoint on (see the module docstring)."""
    return FileImport(inp, options, settings, archive, sources, run_id, on_checkpoint).run()


def checkpoint_ids(inputs: list[WarcInput], options: ImportOptions) -> dict[str, str]:
    """File key -> checkpoint id, for the runners and the progress line."""
    sig = options.signature()
    return {inp.key: Checkpoint(file=inp.key, options=sig).id for inp in inputs}


def parse_when(value: str | None, end_of_day: bool = False) -> datetime | None:
    """``--since/--until``: a day (``2018-08-01``) or a time; ``--until`` of a day includes that day."""
    if not value:
        return None
    from datetime import timedelta

    dt = parse_datetime(value)
    if dt is None:
        raise ValueError(f"{value!r} is not a date: write YYYY-MM-DD or an ISO time")
    if end_of_day and len(value.strip()) <= 10:
        dt += timedelta(days=1)
    return dt
