"""The crawl state of links beyond the known-URL store: resolved search links and sightings.

Role in the data flow: a SQLite file under ``settings.state_dir`` (``links[-<prefix>].sqlite``),
shared by every run and process of one archive, owned by the crawl's
:class:`~crawler.extensions.CrawlState`:

- ``resolutions``: a search item's link (a Google News id, …) -> the publisher URL it leads to,
  or the reason it could not be resolved. A resolved link is never asked again; a failed one is
  asked again after :data:`RETRY_UNRESOLVED` (the decoder may have been refused for a while).
- ``sightings``: which source has already told the archive that it found an archived article
  (``found_via``), so an article first archived by one source and later met by another gets the
  second source's ``found_via`` once, without being fetched again.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

from dealwatch.dates import parse_datetime, to_iso, utcnow

RETRY_UNRESOLVED = timedelta(days=1)

SCHEMA = """
CREATE TABLE IF NOT EXISTS resolutions (
    link TEXT PRIMARY KEY,
    url TEXT,
    reason TEXT,
    resolved_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sightings (
    key TEXT NOT NULL,
    source TEXT NOT NULL,
    noted_at TEXT NOT NULL,
    PRIMARY KEY (key, source)
);
"""


class LinkState:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    @classmethod
    def from_settings(cls, settings) -> "LinkState":
        prefix = settings.index_prefix.rstrip("-")
        return cls(Path(settings.state_dir) / (f"links-{prefix}.sqlite" if prefix else "links.sqlite"))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- resolutions -------------------------------------------------------------------
    def resolution(self, link: str) -> tuple[str | None, str] | None:
        """(url, reason) cached for ``link``; None when never asked, or failed long enough ago to ask again."""
        with self._lock:
            row = self._db.execute("SELECT url, reason, resolved_at FROM resolutions WHERE link = ?",
                                   (link,)).fetchone()
        if row is None:
            return None
        url, reason, when = row
        if url is None and (utcnow() - (parse_datetime(when) or utcnow())) >= RETRY_UNRESOLVED:
            return None
        return url, reason or ""

    def remember(self, link: str, url: str | None, reason: str = "") -> None:
        with self._lock:
            self._db.execute("INSERT INTO resolutions (link, url, reason, resolved_at) VALUES (?, ?, ?, ?)"
                             " ON CONFLICT(link) DO UPDATE SET url=excluded.url, reason=excluded.reason,"
                             " resolved_at=excluded.resolved_at", (link, url, reason, to_iso(utcnow())))

    def count_resolutions(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM resolutions WHERE url IS NOT NULL").fetchone()[0]

    # --- sightings ---------------------------------------------------------------------
    def sighted(self, key: str, source: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM sightings WHERE key = ? AND source = ?",
                                    (key, source)).fetchone() is not None

    def note_sighting(self, key: str, source: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO sightings (key, source, noted_at) VALUES (?, ?, ?)",
                             (key, source, to_iso(utcnow())))
