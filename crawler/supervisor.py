"""The crawl supervisor: one source's crawl as its own process, watched, classified and recorded.

Scrapy's Twisted reactor cannot restart inside one process, so every crawl of a source is
``python -m crawler.crawl_process --sources NAME --stats-file PATH`` in a fresh process.
:func:`supervise_crawl` is what ``dealwatch crawl`` and the scheduler (:mod:`crawler.scheduler`) call:

* a lock file ``<state_dir>/locks/<source>.lock`` (``fcntl.flock``, :mod:`crawler.locks`) keeps
  at most one crawl of a source running on this machine, across processes — a second attempt
  is skipped. The crawl process inherits the locked descriptor, so the lock lives as long as
  the crawl, not as long as its supervisor: a crawl whose daemon was killed goes on holding it,
  and the restarted daemon adopts it (:func:`find_orphans`, :func:`supervise_orphan`) — watches
  its time limit, stops it on shutdown and records it;
* the process writes its stats JSON about every second; it is polled for live progress;
* at the source's time limit (its ``time_limit``, else the ``crawl_time_limit`` setting) the
  crawler closes its spider itself; a process still there ``crawl_stop_grace`` seconds later
  gets SIGTERM once (Scrapy stops gracefully), and SIGKILL after another grace period
  (:func:`dealwatch.processes.stop_child`) — the next run resumes from the known-URL store
  and the WARC either way;
* the outcome is classified ok / partial / failed / timed_out (a crawl killed by a signal is
  "killed (signal N)") and kept in the spool of pending records (:mod:`crawler.pending_runs`)
  before the lock is given up, then written to the run history (:mod:`indexer.run_history`);
  what the archive could not take is replayed at the next run, ``dealwatch status`` or the
  scheduler's start. A run whose supervisor died after the crawl ended is recorded by the next
  supervisor that takes the source's lock (the lock file names its stats file and log).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from crawler import pending_runs
from crawler.locks import Holder, SourceLock, describe, lock_dir, read_holder
from crawler.run_report import new_run_id, read_stats_file
from crawler.sources import time_limit
from dealwatch.dates import parse_datetime, to_iso, utcnow
from dealwatch.processes import pid_alive, stop_child
from dealwatch.settings import Settings
from indexer.run_history import RunRecord

__all__ = ["CrawlProgress", "SourceLock", "build_record", "find_orphans", "settings_environment",
           "stop_running_crawls", "supervise_crawl", "supervise_orphan"]

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


# --- crawls running in this process (so a daemon can stop them on shutdown) -----------

_running: dict[str, subprocess.Popen | Holder] = {}   # our crawl processes, and orphans we adopted
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


# a traceback's last line ("ValueError: ..."), the crawl process's own "error: ..." line before a
# non-zero exit (bad sources file, damaged known-URL store, disk full), or an ERROR/CRITICAL record
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Failure|Interrupt)(: .*)?|error: .+)$")
_ERROR_RECORD = re.compile(r"(^|\] |\s)(ERROR|CRITICAL):\s")


def _log_tail(path: Path, lines: int = 200) -> str:
    """The most telling line at the end of a crawl's log: a traceback's last line, the process's own
    ``error:`` line, or an ERROR record.
    Empty when there is none: any other line (the settings dump Scrapy logs at start) says nothing."""
    try:
        tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    for line in reversed([line.strip() for line in tail if line.strip()]):
        if _EXCEPTION_LINE.match(line) or _ERROR_RECORD.search(line):
            return line[:500]
    return ""


def _killed_by(exit_code: int | None) -> str:
    """"killed (signal 9, SIGKILL)" for a process ended by a signal (a negative exit code)."""
    if exit_code is None or exit_code >= 0:
        return ""
    try:
        name = signal.Signals(-exit_code).name
    except ValueError:
        name = "unknown signal"
    return f"killed (signal {-exit_code}, {name})"


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
    elif _killed_by(exit_code):
        record.status = "failed"
        record.last_error = f"the crawl process was {_killed_by(exit_code)}; the next run resumes where it stopped"
        if log_file:
            record.last_error += f" (log: {log_file})"
    elif exit_code is None and not (stats or {}).get("finished"):
        # a crawl nobody watched to its end (its supervisor died): no exit code, an unfinished stats file
        record.status = "failed"
        record.last_error = ("the crawl process ended before it finished, while no supervisor watched it "
                             "(killed, or the machine stopped); the next run resumes where it stopped")
        if log_file:
            record.last_error += f" (log: {log_file})"
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
    """Write the kept records to the history (this run's and any still waiting). A history that
    cannot take them is logged; the records stay in the spool and the crawl result stands."""
    result = pending_runs.replay(settings)
    if record.doc_id not in result.recorded and result.waiting:
        log.error("could not record run %s of %s in %s: %s (kept in %s; recorded at the next run, "
                  "`dealwatch status` or the scheduler's start)", record.run_id, record.source,
                  settings.runs_index, result.error, pending_runs.spool_dir(settings))


def _hand_over(record: RunRecord, lock: SourceLock, settings: Settings, keep: bool) -> None:
    """While still holding the lock: keep the record durably, then say the lock names no run any more."""
    if keep:
        pending_runs.keep(record, settings)
    lock.write_holder(None)


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
        log.warning("skipped %s: a crawl of this source is already running (%s)", name,
                    describe(lock.holder(), lock.path))
        return RunRecord(run_id=run_id, source=name, started_at=started_at, ended_at=started_at,
                         status="skipped", trigger=trigger, last_error="already running")
    try:
        _record_left_over(lock, settings, next_run_at, keep=record)
        result = _start_and_watch(source, settings, run_id, started_at, trigger, sources_file, on_progress,
                                  crawl_command or [sys.executable, "-m", "crawler.crawl_process"], lock)
        result.trigger = trigger
        result.next_run_at = next_run_at() if callable(next_run_at) else next_run_at
        _hand_over(result, lock, settings, keep=record)
    finally:
        lock.release()
    if record:
        _record(result, settings)
    log.info("run %s of %s: %s, %d pages, articles %s, errors %s", run_id, name, result.status,
             result.pages_fetched, result.articles, result.errors or "none")
    return result


def _start_and_watch(source: Any, settings: Settings, run_id: str, started_at: datetime, trigger: str,
                     sources_file: str | Path | None, on_progress: ProgressCallback | None,
                     crawl_command: list[str], lock: SourceLock) -> RunRecord:
    name = source.name
    limit = time_limit(source, settings)
    run_dir = settings.state_dir / "runs"
    log_dir = settings.logs_dir / "crawls"
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    stats_file = run_dir / f"{name}-{run_id}.json"
    log_file = log_dir / f"{name}-{run_id}.log"
    # the crawl process gets the locked descriptor: the lock lives as long as the crawl does
    argv = [*crawl_command, "--sources", name, "--stats-file", str(stats_file),
            "--run-id", run_id, "--lock-fd", str(lock.fd)]
    if sources_file:
        argv += ["--sources-file", str(sources_file)]
    holder = Holder(source=name, run_id=run_id, trigger=trigger, started_at=to_iso(started_at), time_limit=limit,
                    stats_file=str(stats_file), log_file=str(log_file), supervisor_pid=os.getpid())
    lock.write_holder(holder)

    t0 = time.monotonic()
    timed_out = False
    with open(log_file, "ab") as log_fh:
        # own session: a Ctrl-C on the terminal reaches us, and we stop the crawl gracefully; a
        # supervisor killed outright leaves the crawl running, holding the lock, to be adopted
        proc = subprocess.Popen(argv, stdout=log_fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=settings_environment(settings), start_new_session=True, pass_fds=(lock.fd,))
    holder.crawl_pid = proc.pid
    lock.write_holder(holder)
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


# --- runs whose supervisor died: recorded by the next one, adopted while they run -------------

def _unsupervised_record(holder: Holder, timed_out: bool = False, stopped: bool = False) -> RunRecord:
    """The record of a crawl that ended while no supervisor of ours waited for it (no exit code):
    classified from its stats file, which the lock file names."""
    stats = read_stats_file(Path(holder.stats_file))
    started_at = parse_datetime(holder.started_at) or utcnow()
    # it ended at its stats file's last write (within a second), not when we noticed
    ended_at = max(parse_datetime((stats or {}).get("updated_at")) or utcnow(), started_at)
    record = build_record(holder.source, holder.run_id, started_at, ended_at, stats, None, timed_out,
                          stopped and not timed_out, holder.time_limit,
                          Path(holder.log_file) if holder.log_file else None)
    record.trigger = holder.trigger
    return record


def _next_run(next_run_at: Callable[[], datetime | None] | datetime | None) -> datetime | None:
    return next_run_at() if callable(next_run_at) else next_run_at


def _record_left_over(lock: SourceLock, settings: Settings,
                      next_run_at: Callable[[], datetime | None] | datetime | None, keep: bool = True) -> None:
    """Holding a lock whose file still names a supervised run: its supervisor died after (or while) the
    crawl ended, before the run was recorded. Record it now from its stats file, once."""
    holder = lock.holder()
    if holder is None or not holder.supervisor_pid:
        return                       # nothing left, or a crawl started by hand (nobody records those)
    record = _unsupervised_record(holder)
    record.next_run_at = _next_run(next_run_at)
    log.warning("run %s of %s ended without its supervisor (pid %d); recording it: %s", holder.run_id,
                holder.source, holder.supervisor_pid, record.status)
    _hand_over(record, lock, settings, keep)


def find_orphans(settings: Settings, next_run_at: Callable[[str], datetime | None] | None = None) -> list[Holder]:
    """The crawls still running whose supervisor is gone (a daemon killed during a crawl), from the lock
    files. Runs that ended meanwhile without being recorded are recorded on the way."""
    orphans: list[Holder] = []
    folder = lock_dir(settings)
    if not folder.is_dir():
        return orphans
    for path in sorted(folder.glob("*.lock")):
        lock = SourceLock(settings, path.stem)
        try:
            free = lock.acquire()
        except PermissionError as exc:      # another user's crawls: theirs to adopt
            log.debug("lock %s not readable here: %s", path, exc)
            continue
        if free:
            try:
                _record_left_over(lock, settings, (lambda n=path.stem: next_run_at(n)) if next_run_at else None)
            finally:
                lock.release()
            continue
        holder = read_holder(path)
        if holder and holder.supervisor_pid and holder.supervisor_pid != os.getpid() \
                and not pid_alive(holder.supervisor_pid):
            orphans.append(holder)
    return orphans


def _is_the_crawl(holder: Holder) -> bool:
    """The lock file's crawl pid is still that crawl (not a reused pid): its command line names the stats file."""
    if not holder.crawl_pid:
        return False
    if not Path("/proc/self").exists():          # no /proc (not Linux): the pid is all we know
        return pid_alive(holder.crawl_pid)
    try:
        return holder.stats_file.encode() in Path(f"/proc/{holder.crawl_pid}/cmdline").read_bytes()
    except OSError:
        return False


def _signal_orphan(holder: Holder, sig: int) -> None:
    if _is_the_crawl(holder):
        try:
            os.kill(holder.crawl_pid, sig)
        except ProcessLookupError:
            pass


def supervise_orphan(holder: Holder, settings: Settings, record: bool = True,
                     next_run_at: Callable[[], datetime | None] | datetime | None = None,
                     on_progress: ProgressCallback | None = None) -> RunRecord:
    """Adopt a crawl whose supervisor died: watch it like our own (its time limit, a shutdown of this
    process stops it: SIGTERM once, SIGKILL ``crawl_stop_grace`` later), wait for its lock, record it."""
    name = holder.source
    lock = SourceLock(settings, name)
    started_at = parse_datetime(holder.started_at) or utcnow()
    deadline = started_at.timestamp() + holder.time_limit + settings.crawl_stop_grace
    log.warning("adopting the crawl of %s left by supervisor pid %d (%s)", name, holder.supervisor_pid,
                describe(holder, lock.path))
    with _running_lock:
        _running[name] = holder
        _stop_requested.discard(name)
    timed_out = stopped = False
    terminated_at: float | None = None
    killed = False
    try:
        while not lock.acquire():
            now = time.time()
            if on_progress:
                on_progress(_progress(name, holder.run_id, read_stats_file(Path(holder.stats_file)),
                                      now - started_at.timestamp()))
            if terminated_at is None:
                with _running_lock:
                    stopped = name in _stop_requested
                timed_out = now > deadline
                if stopped or timed_out:
                    log.info("stopping the adopted crawl of %s (pid %s): %s", name, holder.crawl_pid,
                             "time limit" if timed_out else "shutdown")
                    _signal_orphan(holder, signal.SIGTERM)
                    terminated_at = now
            elif not killed and now > terminated_at + settings.crawl_stop_grace:
                log.warning("adopted crawl %s did not stop within %.0fs: killed", name, settings.crawl_stop_grace)
                _signal_orphan(holder, signal.SIGKILL)
                killed = True
            time.sleep(POLL_INTERVAL_S)
    finally:
        with _running_lock:
            _running.pop(name, None)
            _stop_requested.discard(name)
    try:
        current = lock.holder()
        if current is None or current.run_id != holder.run_id:
            log.info("the adopted run %s of %s was recorded by another supervisor", holder.run_id, name)
            return _unsupervised_record(holder, timed_out, stopped)
        result = _unsupervised_record(holder, timed_out, stopped)
        result.next_run_at = _next_run(next_run_at)
        _hand_over(result, lock, settings, keep=record)
    finally:
        lock.release()
    if record:
        _record(result, settings)
    log.info("adopted run %s of %s: %s, %d pages, articles %s, errors %s", holder.run_id, name, result.status,
             result.pages_fetched, result.articles, result.errors or "none")
    return result
