"""The live progress of an import, read from its checkpoints (so it is the same on one machine or many).

A thread reads the checkpoints of the import's files about once a second and shows one line: files
done, records read and records per second, articles imported (new, updated, unchanged) and the
records skipped per reason. On a terminal the line is redrawn in place (``\\r``); otherwise it is
logged every ten seconds. The figures are those of durable work (what the checkpoints recorded).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter
from typing import TextIO

from crawler.backfill.importer import WRITE_COUNTS

log = logging.getLogger(__name__)

NOT_SKIPS = {"records", "to_extraction", "extracted", *WRITE_COUNTS}


def summarize(counts: Counter, records_per_second: float | None = None, files: str = "") -> str:
    """One line: ``files 2/5 | 12,300 records (410/s) | imported 12 (new 10, updated 1, same 1) | skipped: ...``."""
    rate = f" ({records_per_second:,.0f}/s)" if records_per_second is not None else ""
    imported = counts["new"] + counts["updated"] + counts["unchanged"]
    parts = [f"files {files}"] if files else []
    parts.append(f"{counts['records']:,} records{rate}")
    parts.append(f"imported {imported:,} (new {counts['new']:,}, updated {counts['updated']:,}, "
                 f"same {counts['unchanged']:,}" + (f", failed {counts['failed']:,}" if counts["failed"] else "") + ")")
    skipped = [(k, v) for k, v in counts.most_common() if k not in NOT_SKIPS and v]
    if skipped:
        parts.append("skipped: " + ", ".join(f"{k} {v:,}" for k, v in skipped))
    return " | ".join(parts)


class Progress:
    """Polls the checkpoints ``ids`` (file key -> checkpoint id) of ``archive`` and shows the line."""

    def __init__(self, archive, ids: dict[str, str], stream: TextIO | None = None, tty: bool | None = None,
                 interval: float = 1.0, log_every: float = 10.0):
        self.archive = archive
        self.ids = ids
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = interval
        self.log_every = log_every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._width = 0
        self._start_records: int | None = None
        self._started = time.monotonic()
        self._last_log = 0.0
        self.latest = ""

    def totals(self) -> tuple[Counter, int]:
        checkpoints = self.archive.load_import_checkpoints(self.ids.values())
        total: Counter = Counter()
        done = 0
        for cp in checkpoints.values():
            total.update(cp.counts)
            done += cp.done
        return total, done

    def poll(self) -> str:
        try:
            counts, done = self.totals()
        except Exception as exc:  # noqa: BLE001 - a missed progress line is not a failed import
            log.debug("progress: %s", exc)
            return self.latest
        if self._start_records is None:
            self._start_records, self._started = counts["records"], time.monotonic()
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = (counts["records"] - self._start_records) / elapsed
        self.latest = summarize(counts, rate, f"{done}/{len(self.ids)}")
        return self.latest

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            line = self.poll()
            if self.tty:
                self._draw(line)
            elif time.monotonic() - self._last_log >= self.log_every:
                self._last_log = time.monotonic()
                log.info("import: %s", line)

    def _draw(self, line: str) -> None:
        pad = max(0, self._width - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._width = len(line)

    def clear(self) -> None:
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> "Progress":
        self.poll()
        self._thread = threading.Thread(target=self._run, name="import-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self.clear()
