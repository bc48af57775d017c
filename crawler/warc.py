"""Raw pages kept: every fetched article page is appended to a gzip WARC file.

Layout: ``<raw_dir>/<source>/<YYYYMMDD>-<run_id>.warc.gz``, one file per source and run. Each
record is flushed as soon as it is written, so a crawl killed mid-way leaves complete
records behind (the known-URL store only points at flushed ones). The article document
carries ``raw_warc`` (path relative to the data directory), ``raw_offset`` and ``raw_length``;
:func:`read_record` gets the page back for ``dealwatch reextract``.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

# the body is stored decoded: these headers would no longer describe it
_DROP_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class RawPage:
    url: str
    body: bytes
    content_type: str
    status: int
    warc: str              # relative to the data dir
    offset: int
    length: int
    fetched_at: datetime | None = None


class WarcArchive:
    """Appends response records for one source and run."""

    def __init__(self, data_dir: Path, raw_dir: Path, source: str, run_id: str):
        self.data_dir = Path(data_dir)
        day = datetime.now(timezone.utc).strftime("%Y%m%d")
        self.path = Path(raw_dir) / source / f"{day}-{run_id}.warc.gz"
        self._fh: io.BufferedWriter | None = None
        self._writer: WARCWriter | None = None

    @property
    def relative_path(self) -> str:
        try:
            return str(self.path.relative_to(self.data_dir))
        except ValueError:
            return str(self.path)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab")
        self._writer = WARCWriter(self._fh, gzip=True)

    def write(self, url: str, status: int, headers: list[tuple[str, str]], body: bytes,
              protocol: str = "HTTP/1.1") -> tuple[str, int, int]:
        """Append one response record; returns (relative path, offset, length)."""
        if self._fh is None:
            self._open()
        assert self._fh is not None and self._writer is not None
        kept = [(k, v) for k, v in headers if k.lower() not in _DROP_HEADERS]
        kept.append(("Content-Length", str(len(body))))
        http_headers = StatusAndHeaders(f"{status} OK" if status == 200 else str(status), kept, protocol=protocol)
        record = self._writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                 http_headers=http_headers)
        offset = self._fh.tell()
        self._writer.write_record(record)
        self._fh.flush()
        return self.relative_path, offset, self._fh.tell() - offset

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _to_page(record, warc: str, offset: int, length: int) -> RawPage:
    body = record.content_stream().read()
    ctype = record.http_headers.get_header("Content-Type") if record.http_headers else ""
    status = int(record.http_headers.get_statuscode() or 200) if record.http_headers else 200
    date = record.rec_headers.get_header("WARC-Date")
    fetched = None
    if date:
        try:
            fetched = datetime.fromisoformat(date.replace("Z", "+00:00"))
        except ValueError:
            fetched = None
    return RawPage(url=record.rec_headers.get_header("WARC-Target-URI"), body=body, content_type=ctype or "",
                   status=status, warc=warc, offset=offset, length=length, fetched_at=fetched)


def read_record(data_dir: Path, warc: str, offset: int) -> RawPage:
    """The page stored at ``offset`` of ``warc`` (relative to ``data_dir``)."""
    path = Path(data_dir) / warc
    with open(path, "rb") as fh:
        fh.seek(offset)
        for record in ArchiveIterator(fh):
            if record.rec_type == "response":
                return _to_page(record, warc, offset, 0)
    raise ValueError(f"no response record at {warc}:{offset}")


def iter_pages(data_dir: Path, path: Path) -> Iterator[RawPage]:
    """Every response record of one WARC file, with its offset and length."""
    try:
        rel = str(Path(path).relative_to(data_dir))
    except ValueError:
        rel = str(path)
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        for record in it:
            if record.rec_type != "response":
                continue
            page = _to_page(record, rel, 0, 0)   # read the body before asking for offsets
            it.read_to_end()
            yield RawPage(**{**page.__dict__, "offset": it.get_record_offset(), "length": it.get_record_length()})
