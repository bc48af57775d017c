"""The known-URL store: what has been archived, so a run fetches only what is new or due.

A SQLite file under ``settings.state_dir`` shared by every run and process. One row per page
key (:func:`crawler.canonical.url_key`): the source, the fetched and canonical URL, the
document id and content hash, the date the feed/sitemap gave (``lastmod``), the publication
date, when it was last fetched, the WARC record holding the raw page, and a status:

- ``fetched``: the raw page is in a WARC but not yet in the index (a crawl was killed in
  between); the next run re-reads it from the WARC instead of fetching it again;
- ``indexed``: extracted and written to the index;
- ``dropped``: fetched but not an article (no text, not HTML, too large).

:meth:`KnownUrls.decide` is the whole incremental policy (see ``docs/crawler.md``).

A damaged file (cut to 0 bytes, overwritten, not SQLite) is never taken for an empty store
(that would fetch and archive every page of every source again): opening it raises
:class:`KnownUrlsDamaged`, which names the file and the repair, ``dealwatch repair
known-urls`` (:func:`rebuild`: the rows come back from the index, which holds every indexed
page with its WARC pointer, and from the WARC files, which hold the pages archived but not
indexed yet).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

from dealwatch.dates import parse_datetime, to_iso, utcnow

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    canonical_url TEXT,
    doc_id TEXT,
    status TEXT NOT NULL,
    content_hash TEXT,
    lastmod TEXT,
    published_at TEXT,
    fetched_at TEXT NOT NULL,
    warc TEXT,
    warc_offset INTEGER,
    warc_length INTEGER,
    drop_reason TEXT
);
CREATE INDEX IF NOT EXISTS pages_source_status ON pages (source, status);
"""


@dataclass(frozen=True)
class Decision:
    fetch: bool
    why: str    # new | lastmod | revisit | known | pending | dropped


@dataclass(frozen=True)
class PendingPage:
    key: str
    url: str
    warc: str
    offset: int
    lastmod: datetime | None


REPAIR_COMMAND = "dealwatch repair known-urls"


class KnownUrlsDamaged(RuntimeError):
    """The known-URL store's file exists but is not a usable store."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"the known-URL store {path} is damaged ({reason}); crawling with it would fetch "
                         f"every page again. Rebuild it from the index and the WARC files: {REPAIR_COMMAND}")
        self.path = path
        self.reason = reason


def store_path(settings) -> Path:
    """The store of one archive: one file per index prefix under ``state_dir``."""
    name = f"known_urls-{settings.index_prefix.rstrip('-')}.sqlite" if settings.index_prefix else "known_urls.sqlite"
    return Path(settings.state_dir) / name


def _create_whole(path: Path) -> None:
    """A missing store appears with its tables in one step (built aside, then linked into place), so
    a crawl process starting beside another never sees the half-made, empty file SQLite creates
    first - an empty file at ``path`` always means damage."""
    if path.exists():
        return
    aside = path.with_name(f"{path.name}.new-{os.getpid()}-{threading.get_ident()}")
    try:
        db = sqlite3.connect(aside)
        try:
            db.executescript(SCHEMA)
        finally:
            db.close()
        try:
            os.link(aside, path)
        except FileExistsError:
            pass                    # another process made it meanwhile: use theirs
    finally:
        aside.unlink(missing_ok=True)


class KnownUrls:
    def __init__(self, path: Path, revisit_days: float = 3.0, revisit_interval_hours: float = 12.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.revisit = timedelta(days=revisit_days)
        self.revisit_every = timedelta(hours=revisit_interval_hours)
        self._lock = threading.Lock()
        _create_whole(self.path)
        if self.path.stat().st_size == 0:
            raise KnownUrlsDamaged(self.path, "the file is empty: it was cut to 0 bytes")
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            raise KnownUrlsDamaged(self.path, str(exc)) from exc

    @classmethod
    def from_settings(cls, settings) -> "KnownUrls":
        """The store of one archive: one file per index prefix under ``state_dir``."""
        return cls(store_path(settings), settings.revisit_days, settings.revisit_interval_hours)

    def forget_source(self, source: str) -> int:
        """Forget every page of a source (its documents are gone from the index)."""
        with self._lock:
            return self._db.execute("DELETE FROM pages WHERE source = ?", (source,)).rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _row(self, key: str) -> sqlite3.Row | None:
        cur = self._db.execute("SELECT status, lastmod, published_at, fetched_at FROM pages WHERE key = ?", (key,))
        return cur.fetchone()

    def decide(self, key: str, lastmod: datetime | None = None, now: datetime | None = None) -> Decision:
        """Fetch this page? New pages yes; archived ones only when the feed/sitemap date is newer
        than what we have, or when published within ``revisit_days`` and not fetched for
        ``revisit_interval_hours``. Pages waiting in a WARC (``fetched``) are never re-fetched."""
        now = now or utcnow()
        with self._lock:
            row = self._row(key)
        if row is None:
            return Decision(True, "new")
        status, known_lastmod, published, fetched_at = row
        if status == "fetched":
            return Decision(False, "pending")
        if lastmod is not None:
            ref = parse_datetime(known_lastmod) or parse_datetime(fetched_at)
            if ref is not None and lastmod > ref:
                return Decision(True, "lastmod")
        if status == "dropped":
            return Decision(False, "dropped")
        pub = parse_datetime(published)
        last = parse_datetime(fetched_at)
        if pub is not None and last is not None and now - pub <= self.revisit and now - last >= self.revisit_every:
            return Decision(True, "revisit")
        return Decision(False, "known")

    def mark_fetched(self, key: str, source: str, url: str, warc: str, offset: int, length: int,
                     lastmod: datetime | None, fetched_at: datetime) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO pages (key, source, url, status, lastmod, fetched_at, warc, warc_offset, warc_length)"
                " VALUES (?, ?, ?, 'fetched', ?, ?, ?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET status='fetched', url=excluded.url,"
                " lastmod=COALESCE(excluded.lastmod, pages.lastmod), fetched_at=excluded.fetched_at,"
                " warc=excluded.warc, warc_offset=excluded.warc_offset, warc_length=excluded.warc_length",
                (key, source, url, to_iso(lastmod), to_iso(fetched_at), warc, offset, length))

    def mark_indexed(self, keys: list[str], source: str, url: str, canonical_url: str, doc_id: str,
                     content_hash: str, published_at: datetime | str | None, fetched_at: datetime,
                     warc: str | None = None, offset: int | None = None, length: int | None = None) -> None:
        """The page (under every key it was met with, incl. its canonical URL's) is in the index."""
        pub = published_at if isinstance(published_at, str) or published_at is None else to_iso(published_at)
        with self._lock:
            for key in dict.fromkeys(keys):
                self._db.execute(
                    "INSERT INTO pages (key, source, url, canonical_url, doc_id, status, content_hash, published_at,"
                    " fetched_at, warc, warc_offset, warc_length) VALUES (?, ?, ?, ?, ?, 'indexed', ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET status='indexed', canonical_url=excluded.canonical_url,"
                    " doc_id=excluded.doc_id, content_hash=excluded.content_hash,"
                    " published_at=excluded.published_at, fetched_at=excluded.fetched_at,"
                    " warc=COALESCE(excluded.warc, pages.warc), warc_offset=COALESCE(excluded.warc_offset,"
                    " pages.warc_offset), warc_length=COALESCE(excluded.warc_length, pages.warc_length)",
                    (key, source, url, canonical_url, doc_id, content_hash, pub, to_iso(fetched_at), warc, offset,
                     length))

    def mark_dropped(self, key: str, source: str, url: str, reason: str, fetched_at: datetime,
                     lastmod: datetime | None = None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO pages (key, source, url, status, drop_reason, lastmod, fetched_at)"
                " VALUES (?, ?, ?, 'dropped', ?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET status='dropped', drop_reason=excluded.drop_reason,"
                " lastmod=COALESCE(excluded.lastmod, pages.lastmod), fetched_at=excluded.fetched_at",
                (key, source, url, reason, to_iso(lastmod), to_iso(fetched_at)))

    def note_lastmod(self, key: str, lastmod: datetime) -> None:
        """Remember a later feed/sitemap date for a page fetched in this run (no refetch next time)."""
        with self._lock:
            self._db.execute("UPDATE pages SET lastmod = ? WHERE key = ? AND (lastmod IS NULL OR lastmod < ?)",
                             (to_iso(lastmod), key, to_iso(lastmod)))

    def forget(self, key: str) -> None:
        """Drop a page from the store (its raw page is unreadable): the next discovery fetches it."""
        with self._lock:
            self._db.execute("DELETE FROM pages WHERE key = ?", (key,))

    def owner(self, key: str) -> tuple[str, str | None, str] | None:
        """(source, document id, status) of a known page, or None."""
        with self._lock:
            row = self._db.execute("SELECT source, doc_id, status FROM pages WHERE key = ?", (key,)).fetchone()
        return tuple(row) if row else None

    def pending(self, source: str) -> Iterator[PendingPage]:
        """Pages archived in a WARC by an interrupted run but never indexed."""
        with self._lock:
            rows = self._db.execute("SELECT key, url, warc, warc_offset, lastmod FROM pages"
                                    " WHERE source = ? AND status = 'fetched'", (source,)).fetchall()
        for key, url, warc, offset, lastmod in rows:
            yield PendingPage(key, url, warc, offset, parse_datetime(lastmod))

    def count(self, source: str | None = None, status: str | None = None) -> int:
        q, args = "SELECT COUNT(*) FROM pages WHERE 1=1", []
        if source:
            q += " AND source = ?"
            args.append(source)
        if status:
            q += " AND status = ?"
            args.append(status)
        with self._lock:
            return self._db.execute(q, args).fetchone()[0]


# --- repair ------------------------------------------------------------------------------

@dataclass
class RebuildResult:
    path: Path
    kept_as: Path | None = None     # the damaged file, moved aside
    indexed: int = 0                # pages taken from the index
    pending: int = 0                # pages found only in WARC files (indexed by the next run)


_INDEX_FIELDS = ["url", "canonical_url", "source", "content_hash", "published_at", "crawled_at", "updated_at",
                 "raw_warc", "raw_offset", "raw_length"]


def rebuild(settings, archive) -> RebuildResult:
    """Rebuild the store of this archive: move the old file aside (``<name>.damaged-<UTC time>``),
    then every document of the index becomes an ``indexed`` row (under the keys of its URL and
    canonical URL, with its WARC pointer), and every page of the WARC files that the index does
    not hold a ``fetched`` row pointing at its latest record, so the next run indexes it from
    there without fetching it. ``archive`` is an :class:`indexer.archive.Archive`."""
    from crawler.canonical import url_key
    from indexer.raw_pages import iter_pages

    path = store_path(settings)
    result = RebuildResult(path)
    if path.exists():
        result.kept_as = path.with_name(f"{path.name}.damaged-{utcnow():%Y%m%dT%H%M%SZ}")
        path.rename(result.kept_as)
    for extra in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        extra.unlink(missing_ok=True)
    known = KnownUrls.from_settings(settings)
    try:
        if archive.exists():
            for hit in archive.scan(_INDEX_FIELDS, oldest_first=True):
                doc = hit["_source"]
                url = doc.get("url") or doc.get("canonical_url")
                if not url or not doc.get("source"):
                    continue
                canonical = doc.get("canonical_url") or url
                fetched = max(filter(None, (parse_datetime(doc.get("crawled_at")), parse_datetime(doc.get("updated_at")))),
                              default=None) or utcnow()
                known.mark_indexed([url_key(url), url_key(canonical)], doc["source"], url, canonical, hit["_id"],
                                   doc.get("content_hash") or "", doc.get("published_at"), fetched,
                                   doc.get("raw_warc"), doc.get("raw_offset"), doc.get("raw_length"))
                result.indexed += 1
        raw_dir = Path(settings.raw_dir)
        for source_dir in sorted(p for p in raw_dir.iterdir() if p.is_dir()) if raw_dir.is_dir() else ():
            latest: dict[str, tuple] = {}
            for warc in sorted(source_dir.glob("*.warc.gz")):
                try:
                    for page in iter_pages(settings.data_dir, warc):
                        latest[url_key(page.url)] = (page.url, page.warc, page.offset, page.length, page.fetched_at)
                except Exception as exc:  # noqa: BLE001 - a cut tail (killed crawl): what was readable counts
                    log.warning("stopped reading %s at a damaged record: %s", warc, exc)
            for key, (url, warc, offset, length, fetched_at) in latest.items():
                if known._row(key) is None:
                    known.mark_fetched(key, source_dir.name, url, warc, offset, length, None, fetched_at or utcnow())
                    result.pending += 1
    finally:
        known.close()
    return result
