"""One crawl per source at a time: the per-source lock, held by the crawl process itself.

The lock is ``fcntl.flock`` on ``<state_dir>/locks/<source>.lock``. The supervisor takes it,
hands the locked descriptor to the crawl process it starts (the child inherits the same open
file, so the lock stays held as long as EITHER of them lives) and releases its own copy after
the run is recorded. So a daemon killed during a crawl leaves the lock with the crawl, which
runs on: no second crawl of the source starts until that one has ended.

The lock file's content says who holds it and where its run's traces are (JSON, rewritten in
place under the lock): source, run id, trigger, start time, time limit, the stats file, the
log, the supervisor's pid and the crawl's pid. A restarted daemon reads it to adopt a crawl
whose supervisor died (:func:`crawler.supervisor.adopt_orphan`), and a supervisor that takes a
free lock with content left in it records the run its dead predecessor could not. The content
is cleared when the run has been handed to the run history (or its spool).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dealwatch.dates import to_iso, utcnow
from dealwatch.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Holder:
    """What the lock file says of the crawl that holds (or held) it."""

    source: str
    run_id: str
    trigger: str
    started_at: str                 # ISO, UTC
    time_limit: float
    stats_file: str
    log_file: str
    supervisor_pid: int | None      # None: a crawl started by hand, which nobody records
    crawl_pid: int | None = None

    @classmethod
    def from_json(cls, text: str) -> "Holder | None":
        try:
            data = json.loads(text)
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except (ValueError, TypeError, KeyError):
            return None


def lock_dir(settings: Settings) -> Path:
    return settings.state_dir / "locks"


class SourceLock:
    """An exclusive, non-blocking ``flock`` on ``<state_dir>/locks/<source>.lock``."""

    def __init__(self, settings: Settings, source_name: str):
        self.source = source_name
        self.path = lock_dir(settings) / f"{source_name}.lock"
        self._fd: int | None = None

    @property
    def fd(self) -> int | None:
        """The locked descriptor (None when not held): a crawl process started with it holds the lock too."""
        return self._fd

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def holder(self) -> Holder | None:
        """The content of the lock file (held or not), when it names a crawl."""
        return read_holder(self.path)

    def write_holder(self, holder: Holder | None) -> None:
        """Say who holds the lock (None: nobody; the run is handed over). Only while holding it."""
        assert self._fd is not None, "write_holder() needs the lock"
        data = (json.dumps(asdict(holder)) + "\n").encode() if holder else b""
        os.pwrite(self._fd, data, 0)        # one write: a reader sees the old or the new content
        os.ftruncate(self._fd, len(data))
        os.fsync(self._fd)

    def release(self) -> None:
        """Close this process's descriptor. The lock is free once no process has it open: a crawl
        process that inherited it keeps it until it ends (no ``LOCK_UN``, which would free it for
        the crawl too)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def read_holder(path: Path) -> Holder | None:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return None
    return Holder.from_json(text) if text.strip() else None


def adopt_descriptor(fd: int, source: str) -> None:
    """In the crawl process: keep the lock the supervisor handed over on ``fd`` for the whole crawl.

    The descriptor must hold the lock already (the same open file as the supervisor's); it is
    made non-inheritable so no process the crawl starts (the extraction pool) holds it past
    the crawl's own end.
    """
    try:
        os.set_inheritable(fd, False)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)     # ours already: a no-op that proves it
    except OSError as exc:
        raise LockError(f"the lock of {source} handed over on descriptor {fd} is not held: {exc}") from exc


class LockError(RuntimeError):
    """A crawl could not take (or keep) its source's lock; the message says who holds it."""


def hold_for_crawl(settings: Settings, time_limits: dict[str, float], lock_fd: int | None, run_id: str,
                   stats_file: Path) -> list[Any]:
    """In the crawl process: the locks of the sources it crawls (``time_limits``: name -> seconds), to
    keep until it exits — the descriptor the supervisor handed over, or locks taken here (a crawl
    started by hand: the lock file names it, without a supervisor). Raises :class:`LockError` when
    one is held."""
    if lock_fd is not None:
        [name] = time_limits        # the supervisor starts one source per process
        adopt_descriptor(lock_fd, name)
        return [lock_fd]
    held: list[Any] = []
    for name, limit in time_limits.items():
        lock = SourceLock(settings, name)
        if not lock.acquire():
            for other in held:
                other.release()
            raise LockError(f"a crawl of {name} is already running ({describe(lock.holder(), lock.path)})")
        lock.write_holder(Holder(source=name, run_id=run_id, trigger="manual", started_at=to_iso(utcnow()),
                                 time_limit=limit, stats_file=str(stats_file), log_file="",
                                 supervisor_pid=None, crawl_pid=os.getpid()))
        held.append(lock)
    return held


def describe(holder: Holder | None, path: Path) -> str:
    if holder is None:
        return f"lock {path}"
    supervisor = f"supervisor pid {holder.supervisor_pid}" if holder.supervisor_pid else "started by hand"
    return f"run {holder.run_id} since {holder.started_at}, crawl pid {holder.crawl_pid or '?'}, {supervisor}; lock {path}"

