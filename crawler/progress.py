"""The live progress board of ``dealwatch crawl``: what the running crawls are doing, now.

The supervisor (:mod:`crawler.supervisor`) reads each crawl process's stats file about twice a
second and hands a :class:`~crawler.supervisor.CrawlProgress` to :meth:`ProgressBoard.update`;
the board shows one ``\\r`` line over all running sources on a terminal, a log line per source
every ``log_every`` seconds otherwise, and one line per source when its run is recorded.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

import click

log = logging.getLogger(__name__)


class ProgressBoard:
    """Keeps the latest progress of every running source and shows it."""

    def __init__(self, total: int, tty: bool, log_every: float = 10.0):
        self.total = total
        self.tty = tty
        self.log_every = log_every
        self.latest: dict[str, object] = {}
        self.done = 0
        self._last_log: dict[str, float] = {}
        self._lock = threading.Lock()
        self._width = 0

    def update(self, progress) -> None:
        with self._lock:
            self.latest[progress.source] = progress
            if self.tty:
                self._draw()
            elif time.monotonic() - self._last_log.get(progress.source, 0.0) >= self.log_every:
                self._last_log[progress.source] = time.monotonic()
                log.info("progress %s", progress.line())

    def finished(self, record) -> None:
        with self._lock:
            self.done += 1
            self.latest.pop(record.source, None)
            self._clear()
            click.echo(f"[{self.done}/{self.total}] {record.source}: {record.status} — {record.pages_fetched} pages, "
                       f"{record.articles.get('new', 0)} new, {record.articles.get('updated', 0)} updated, "
                       f"{record.errors_total} errors ({record.duration_s or 0:.0f}s)")
            if self.tty and self.latest:
                self._draw()

    def close(self) -> None:
        """Clear the live line (before the final report is printed)."""
        with self._lock:
            self._clear()

    def _draw(self) -> None:
        running = list(self.latest.values())
        pages = sum(p.pages_fetched for p in running)
        new = sum(p.articles.get("new", 0) for p in running)
        updated = sum(p.articles.get("updated", 0) for p in running)
        errors = sum(p.errors_total for p in running)
        names = ",".join(p.source for p in running)
        line = (f"crawling {names or '…'} | done {self.done}/{self.total} | pages {pages} | new {new} | "
                f"updated {updated} | errors {errors}")
        pad = max(0, self._width - len(line))
        sys.stdout.write("\r" + line + " " * pad)
        sys.stdout.flush()
        self._width = len(line)

    def _clear(self) -> None:
        if self.tty and self._width:
            sys.stdout.write("\r" + " " * self._width + "\r")
            sys.stdout.flush()
            self._width = 0
