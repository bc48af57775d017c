"""The crawl supervisor: one source's crawl as its own process, watched, classified and recorded.

Scrapy's Twisted reactor cannot restart inside one process, so every crawl of a source is
``python -m crawler.crawl_process --sources NAME --stats-file PATH`` in a fresh process.
:func:`supervise_crawl` is what ``dealwatch crawl`` and the scheduler (:mod:`crawler.scheduler`) call:

* a lock file ``<state_dir>/locks/<source>.lock`` (``fcntl.flock``) keeps at most one crawl
  of a source running on this machine, across processes — a second attempt is skipped;
* the process writes its stats JSON about every second; it is polled for live progress;
* at the source's time limit (its ``time_limit``, else the ``crawl_time_limit`` setting) the
  crawler closes its spider itself; a process still there ``crawl_stop_grace`` seconds later
  gets SIGTERM once (Scrapy stops gracefully), and SIGKILL after another grace period
  (:func:`dealwatch.processes.stop_child`) — the next run resumes from the known-URL store
  and the WARC either way;
* the outcome is classified ok / partial / failed / timed_out and written to the run
  history (:mod:`indexer.run_history`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from crawler.run_report import new_run_id, read_stats_file
from crawler.sources import time_limit
from dealwatch.dates import utcnow
from dealwatch.processes import stop_child
from dealwatch.settings import Settings
from indexer.run_history import RunRecord

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.5


@dataclass
class CrawlProgress:
    """A live snapshot of one source's crawl, read from its stats file."""

    source: str
    run_id: str
    elapsed_s: float = 0.0
    pages_fetched: int = 0
    requests: int = 0
    articles: dict[str, int] = field(default_factory=dict)
    errors_total: int = 0
    finished: bool = False

    def line(self) -> str:
        a = self.articles
        return (f"{self.source}: {self.pages_fetched} pages, {a.get('new', 0)} new, {a.get('updated', 0)} updated, "
                f"{a.get('dropped', 0)} dropped, {self.errors_total} errors ({self.elapsed_s:.0f}s)")


ProgressCallback = Callable[[CrawlProgress], None]


def settings_environment(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process exactly these settings (``DEALWATCH_*``)."""
    return {**os.environ, **settings.as_environment()}


# --- at most one crawl per source -----------------------------------------------------

class SourceLock:
    """An exclusive, non-blocking ``flock`` on ``<state_dir>/locks/<source>.lock``."""

    def __init__(self, settings: Settings, source_name: str):
        self.path = settings.state_dir / "locks" / f"{source_name}.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


# --- crawls running in this process (so a daemon can stop them on shutdown) -----------

_running: dict[str, subprocess.Popen] = {}
_stop_requested: set[str] = set()
_running_lock = threading.Lock()


def stop_running_crawls() -> int:
    """Ask every crawl started by this process to stop; each one's watcher sends it SIGTERM once
    (Scrapy stops resumably), SIGKILL ``crawl_stop_grace`` seconds later. Returns how many."""
    with _running_lock:
        _stop_requested.update(_running)
        return len(_running)


def _stop(proc: subprocess.Popen, name: str, settings: Settings) -> int:
    """SIGTERM (once: a second one makes Scrapy stop uncleanly), SIGKILL after the grace period."""
    exit_code = stop_child(proc, settings.crawl_stop_grace)
    if exit_code == -signal.SIGKILL:
        log.warning("crawl %s did not stop within %.0fs: killed", name, settings.crawl_stop_grace)
    return exit_code


# --- the stats file ------------------------------------------------------------------

def _source_stats(stats: dict[str, Any] | None, name: str) -> dict[str, Any]:
    if not stats:
        return {}
    return (stats.get("sources") or {}).get(name) or {}


def _progress(name: str, run_id: str, stats: dict[str, Any] | None, elapsed: float) -> CrawlProgress:
    s = _source_stats(stats, name)
    return CrawlProgress(
        source=name, run_id=run_id, elapsed_s=elapsed, pages_fetched=int(s.get("pages_fetched") or 0),
        requests=int(s.get("requests") or 0), articles=dict(s.get("articles") or {}),
        errors_total=sum(int(v or 0) for v in (s.get("errors") or {}).values()),
        finished=bool(stats and stats.get("finished")),
    )


def _log_tail(path: Path, lines: int = 200) -> str:
    """The most telling line at the end of a crawl's log (a traceback's last line or an ERROR)."""
    try:
        tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    tail = [line.strip() for line in tail if line.strip()]
    for line in reversed(tail):
        if not line.startswith(("File ", "Traceback", "^", "~")) and ("Error" in line or "error" in line):
            return line[:500]
    return tail[-1][:500] if tail else ""


# --- the outcome ----------------------------------------------------------------------

def build_record(name: str, run_id: str, started_at: datetime, ended_at: datetime, stats: dict[str, Any] | None,
                 exit_code: int | None, timed_out: bool, stopped: bool, time_limit: float,
                 log_file: Path | None = None) -> RunRecord:
    """Turn a finished crawl process (exit code + stats) into a classified :class:`RunRecord`."""
    s = _source_stats(stats, name)
    articles = {k: int((s.get("articles") or {}).get(k, 0) or 0) for k in ("new", "updated", "unchanged", "dropped")}
    errors = {k: int(v) for k, v in (s.get("errors") or {}).items() if v}
    record = RunRecord(
        run_id=run_id, source=name, started_at=started_at, ended_at=ended_at, exit_code=exit_code,
        finish_reason=str(s.get("finish_reason") or ""), pages_fetched=int(s.get("pages_fetched") or 0),
        requests=int(s.get("requests") or 0), articles=articles,
        dropped_reasons={k: int(v) for k, v in (s.get("dropped_reasons") or {}).items() if v},
        errors=errors, error_samples=list(s.get("error_samples") or [])[:20],
        log_file=str(log_file or ""),
    )
    # the most telling sample: one of a counted error kind (samples also hold drops)
    sample = next((x for x in record.error_samples if x.get("kind") in errors),
                  record.error_samples[0] if record.error_samples else None)
    sample_text = f"{sample.get('kind')}: {sample.get('url')}: {sample.get('message')}" if sample else ""

    if timed_out or record.finish_reason == "closespider_timeout":
        record.status = "timed_out"
        record.last_error = f"ended after its time limit of {time_limit:.0f}s; the next run resumes where it stopped"
    elif stopped:
        record.status = "partial"
        record.last_error = "stopped on shutdown; the next run resumes where it stopped"
    elif exit_code not in (0, None) or not s:
        record.status = "failed"
        detail = _log_tail(log_file) if log_file else ""
        if not s:
            record.last_error = f"the crawl process exited with code {exit_code} without stats for {name}"
        else:
            record.last_error = f"the crawl process exited with code {exit_code}"
        if detail:
            record.last_error += f": {detail}"
        if log_file:
            record.last_error += f" (log: {log_file})"
    elif record.pages_fetched == 0:
        record.status = "failed"
        record.last_error = ("nothing fetched: " + sample_text) if sample_text else \
            "nothing fetched (no reachable feed, sitemap or page)"
    elif errors:
        record.status = "partial"
        record.last_error = sample_text or "errors: " + ", ".join(f"{k}={v}" for k, v in sorted(errors.items()))
    else:
        record.status = "ok"
    return record


def _record(record: RunRecord, settings: Settings) -> None:
    """Write the run to the history; a history failure is logged, the crawl result stands."""
    from indexer.archive import Archive
    from indexer.errors import ArchiveError
    try:
        Archive(settings).record_run(record)
    except ArchiveError as exc:
        log.error("could not record run %s of %s in %s: %s (the stats file is kept)",
                  record.run_id, record.source, settings.runs_index, exc)


def supervise_crawl(source: Any, settings: Settings, run_id: str | None = None, sources_file: str | Path | None = None,
               on_progress: ProgressCallback | None = None, trigger: str = "manual",
               next_run_at: Callable[[], datetime | None] | datetime | None = None,
               record: bool = True, crawl_command: list[str] | None = None) -> RunRecord:
    """Crawl one source in its own process, within its time limit, and record the run.

    Returns the run's record; its status is ``skipped`` (and nothing is recorded) when a
    crawl of the same source already runs on this machine. ``crawl_command`` replaces
    ``python -m crawler.crawl_process`` (tests of the process handling only).
    """
    name = source.name
    run_id = run_id or new_run_id()
    started_at = utcnow()
    lock = SourceLock(settings, name)
    if not lock.acquire():
        log.warning("skipped %s: a crawl of this source is already running (lock %s)", name, lock.path)
        return RunRecord(run_id=run_id, source=name, started_at=started_at, ended_at=started_at,
                         status="skipped", trigger=trigger, last_error="already running")
    try:
        result = _start_and_watch(source, settings, run_id, started_at, sources_file, on_progress,
                             crawl_command or [sys.executable, "-m", "crawler.crawl_process"])
    finally:
        lock.release()
    result.trigger = trigger
    result.next_run_at = next_run_at() if callable(next_run_at) else next_run_at
    if record:
        _record(result, settings)
    log.info("run %s of %s: %s, %d pages, articles %s, errors %s", run_id, name, result.status,
             result.pages_fetched, result.articles, result.errors or "none")
    return result


def _start_and_watch(source: Any, settings: Settings, run_id: str, started_at: datetime,
                sources_file: str | Path | None, on_progress: ProgressCallback | None,
                crawl_command: list[str]) -> RunRecord:
    name = source.name
    limit = time_limit(source, settings)
    run_dir = settings.state_dir / "runs"
    log_dir = settings.logs_dir / "crawls"
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    stats_file = run_dir / f"{name}-{run_id}.json"
    log_file = log_dir / f"{name}-{run_id}.log"
    argv = [*crawl_command, "--sources", name, "--stats-file", str(stats_file),
            "--run-id", run_id]
    if sources_file:
        argv += ["--sources-file", str(sources_file)]

    t0 = time.monotonic()
    timed_out = False
    with open(log_file, "ab") as log_fh:
        # own session: a Ctrl-C on the terminal reaches us, and we stop the crawl gracefully
        proc = subprocess.Popen(argv, stdout=log_fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=settings_environment(settings), start_new_session=True)
    log.info("crawl %s started: pid %d, run %s, limit %.0fs, log %s", name, proc.pid, run_id, limit, log_file)
    with _running_lock:
        _running[name] = proc
        _stop_requested.discard(name)
    try:
        while True:
            try:
                exit_code = proc.wait(timeout=POLL_INTERVAL_S)
                break
            except subprocess.TimeoutExpired:
                pass
            elapsed = time.monotonic() - t0
            if on_progress:
                on_progress(_progress(name, run_id, read_stats_file(stats_file), elapsed))
            # the crawler closes its spider at the limit itself (CLOSESPIDER_TIMEOUT); the
            # supervisor steps in only when the process is still there a grace period later
            if elapsed > limit + settings.crawl_stop_grace:
                log.warning("crawl %s exceeded its time limit (%.0fs): stopping it", name, limit)
                timed_out = True
            elif name in _stop_requested:
                log.info("stopping crawl of %s (pid %d); it resumes on its next run", name, proc.pid)
            else:
                continue
            exit_code = _stop(proc, name, settings)
            break
    except BaseException:
        # KeyboardInterrupt or a shutdown in the caller: stop the crawl resumably, then re-raise
        _stop(proc, name, settings)
        raise
    finally:
        with _running_lock:
            _running.pop(name, None)
            stopped = name in _stop_requested
            _stop_requested.discard(name)
    ended_at = utcnow()
    stats = read_stats_file(stats_file)
    if on_progress:
        on_progress(_progress(name, run_id, stats, time.monotonic() - t0))
    return build_record(name, run_id, started_at, ended_at, stats, exit_code, timed_out, stopped and not timed_out,
                        limit, log_file)
