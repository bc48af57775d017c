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
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

from dealwatch.dates import parse_datetime, to_iso, utcnow

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


class KnownUrls:
    def __init__(self, path: Path, revisit_days: float = 3.0, revisit_interval_hours: float = 12.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.revisit = timedelta(days=revisit_days)
        self.revisit_every = timedelta(hours=revisit_interval_hours)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    @classmethod
    def from_settings(cls, settings) -> "KnownUrls":
        """The store of one archive: one file per index prefix under ``state_dir``."""
        name = f"known_urls-{settings.index_prefix.rstrip('-')}.sqlite" if settings.index_prefix else "known_urls.sqlite"
        return cls(Path(settings.state_dir) / name, settings.revisit_days, settings.revisit_interval_hours)

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
