"""Import checkpoints: the ``<prefix>import-checkpoints`` index, one document per WARC file imported.

A backfill (``dealwatch import``, :mod:`crawler.backfill`) records after each durable step how far
it got in each file: the byte offset of the next record to read (or, for a file that cannot be
entered in the middle, the number of records already read), what it counted so far, and whether the
file is finished. The checkpoints live in the archive's cluster, so every machine of a distributed
import sees the same ones: a worker that dies loses at most its file's progress since its last
checkpoint, and any other worker resumes the file from there. Reached through
:class:`indexer.archive.Archive` (``import_checkpoint``, ``save_import_checkpoint``, ...).

A checkpoint's id is derived from the file and the import's options (``options``: a short text
naming the filters), so importing the same file again with other filters reads it again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from elasticsearch import Elasticsearch

from dealwatch.dates import parse_datetime, to_iso, utcnow
from dealwatch.settings import Settings

STATUSES = ("running", "done", "failed")
MODES = ("seek", "skip")      # resume by seeking to ``offset``, or by reading past ``records`` records

_COUNT_PAIRS = {"properties": {"name": {"type": "keyword"}, "count": {"type": "long"}}}

MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "file": {"type": "keyword"},
        "options": {"type": "keyword"},
        "status": {"type": "keyword"},
        "mode": {"type": "keyword"},
        "offset": {"type": "long"},
        "records": {"type": "long"},
        "counts": _COUNT_PAIRS,
        "worker": {"type": "keyword"},
        "run_id": {"type": "keyword"},
        "started_at": {"type": "date"},
        "updated_at": {"type": "date"},
        "finished_at": {"type": "date"},
        "error": {"type": "text", "index": False},
    },
}


def index_name(settings: Settings) -> str:
    return f"{settings.index_prefix}import-checkpoints"


def checkpoint_id(file: str, options: str) -> str:
    return hashlib.sha1(f"{file}\n{options}".encode("utf-8")).hexdigest()


@dataclass
class Checkpoint:
    """How far the import of one file got (everything before ``offset`` is durably done)."""

    file: str                       # the file's key: a path, a URL, or a CC-NEWS path
    options: str = ""               # the filters it is imported with
    status: str = "running"
    mode: str = "seek"
    offset: int = 0                 # byte offset of the next record to read (mode "seek")
    records: int = 0                # records read so far, all of them before ``offset``
    counts: dict[str, int] = field(default_factory=dict)   # new, updated, unchanged, failed, skip reasons
    worker: str = ""
    run_id: str = ""
    started_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None
    error: str = ""

    @property
    def id(self) -> str:
        return checkpoint_id(self.file, self.options)

    @property
    def done(self) -> bool:
        return self.status == "done"

    def to_source(self) -> dict[str, Any]:
        return {
            "file": self.file, "options": self.options, "status": self.status, "mode": self.mode,
            "offset": int(self.offset), "records": int(self.records),
            "counts": [{"name": k, "count": int(v)} for k, v in sorted(self.counts.items()) if v],
            "worker": self.worker, "run_id": self.run_id, "started_at": to_iso(self.started_at),
            "updated_at": to_iso(self.updated_at), "finished_at": to_iso(self.finished_at), "error": self.error,
        }

    @classmethod
    def from_source(cls, src: dict[str, Any]) -> "Checkpoint":
        return cls(file=src["file"], options=src.get("options") or "", status=src.get("status") or "running",
                   mode=src.get("mode") or "seek", offset=int(src.get("offset") or 0),
                   records=int(src.get("records") or 0),
                   counts={p["name"]: int(p["count"]) for p in src.get("counts") or []},
                   worker=src.get("worker") or "", run_id=src.get("run_id") or "",
                   started_at=parse_datetime(src.get("started_at")), updated_at=parse_datetime(src.get("updated_at")),
                   finished_at=parse_datetime(src.get("finished_at")), error=src.get("error") or "")


def ensure_index(es: Elasticsearch, settings: Settings) -> None:
    if not es.indices.exists(index=index_name(settings)):
        es.options(ignore_status=400).indices.create(
            index=index_name(settings), settings={"number_of_shards": 1, "number_of_replicas": settings.index_replicas},
            mappings=MAPPING)


def save(es: Elasticsearch, settings: Settings, checkpoint: Checkpoint) -> None:
    """Write one checkpoint (readable at once by id: gets are real-time)."""
    checkpoint.updated_at = utcnow()
    es.index(index=index_name(settings), id=checkpoint.id, document=checkpoint.to_source())


def get_many(es: Elasticsearch, settings: Settings, ids: Iterable[str]) -> dict[str, Checkpoint]:
    """The checkpoints that exist among ``ids`` (real-time multi-get: the latest saved state)."""
    ids = list(ids)
    if not ids or not es.indices.exists(index=index_name(settings)):
        return {}
    resp = es.mget(index=index_name(settings), ids=ids)
    return {d["_id"]: Checkpoint.from_source(d["_source"]) for d in resp["docs"] if d.get("found")}


def forget(es: Elasticsearch, settings: Settings, ids: Iterable[str]) -> int:
    """Delete checkpoints (an import started again from the beginning). Returns how many existed."""
    n = 0
    if not es.indices.exists(index=index_name(settings)):
        return 0
    for doc_id in ids:
        resp = es.options(ignore_status=404).delete(index=index_name(settings), id=doc_id)
        n += resp.get("result") == "deleted"
    return n
