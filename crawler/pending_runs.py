"""The spool of run records not yet in the run history: nothing goes missing while the archive is down.

Every run the supervisor classifies is first kept here, durably (one JSON file per run under
``<state_dir>/pending-runs/``, written to a temporary name, flushed to disk and renamed), and
only then handed to the archive's run history. A record the archive takes is removed from the
spool; one it cannot take (Elasticsearch down, overloaded, refusing) stays and is replayed at
the next opportunity — the next run of any source, ``dealwatch status``, the scheduler's start —
until it is in. The history's document id is ``<run_id>:<source>``, the same at every replay,
so a record replayed twice (two replayers at once, a crash between the write and the removal)
is still one run in the history.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from dealwatch.settings import Settings
from indexer.errors import ArchiveError, ArchiveUnavailable
from indexer.run_history import RunRecord

log = logging.getLogger(__name__)


def spool_dir(settings: Settings) -> Path:
    return settings.state_dir / "pending-runs"


def _path(settings: Settings, record: RunRecord) -> Path:
    return spool_dir(settings) / f"{record.source}-{record.run_id}.json"


def keep(record: RunRecord, settings: Settings) -> Path:
    """Keep a record durably until the run history has it; returns its file."""
    path = _path(settings, record)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(record.to_document(), fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _sync_dir(path.parent)
    return path


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pending(settings: Settings) -> list[Path]:
    """The files of the records not yet in the run history, oldest run first."""
    folder = spool_dir(settings)
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.glob("*.json") if not p.name.startswith(".")),
                  key=lambda p: (p.stat().st_mtime, p.name))


@dataclass
class Replay:
    """What a replay did: records now in the history, records still waiting (and why)."""

    recorded: list[str] = field(default_factory=list)      # history document ids
    waiting: int = 0
    error: str = ""


def replay(settings: Settings, archive=None) -> Replay:
    """Hand every kept record to the run history; stop at the first sign that the archive is down.

    Safe to run from several processes and threads at once: they take turns (a replay is short,
    and bounded by the client's timeouts when the archive hangs), and a record another one has
    taken is gone from the spool.
    """
    result = Replay()
    if not pending(settings):
        return result
    folder = spool_dir(settings)
    with open(folder / ".replay.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        from indexer.archive import Archive
        archive = archive or Archive(settings)
        files = pending(settings)
        for i, path in enumerate(files):
            try:
                record = RunRecord.from_document(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                bad = path.with_suffix(".unreadable")
                log.error("pending run record %s cannot be read (%s): moved to %s", path, exc, bad)
                path.replace(bad)
                continue
            try:
                archive.record_run(record, refresh=i == len(files) - 1)
            except ArchiveError as exc:
                result.error = str(exc)
                if isinstance(exc, ArchiveUnavailable):
                    result.waiting = len(files) - i
                    break
                log.error("run %s of %s is kept in %s: the run history refused it: %s", record.run_id,
                          record.source, path, exc)
                result.waiting += 1
                continue
            path.unlink(missing_ok=True)
            result.recorded.append(record.doc_id)
    if result.recorded:
        log.info("recorded %d kept run(s) in %s: %s", len(result.recorded), settings.runs_index,
                 ", ".join(result.recorded))
    if result.waiting:
        log.warning("%d run record(s) wait in %s for the run history: %s", result.waiting, folder, result.error)
    return result
