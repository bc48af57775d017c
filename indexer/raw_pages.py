"""Raw pages kept beside the documents: gzip WARC files under the raw-pages folder.

The crawler appends every fetched article page to ``<raw_dir>/<source>/<YYYYMMDD>-<run_id>.warc.gz``
(one file per source and run) with :class:`WarcWriter`; each record is flushed as soon as it is
written, so a crawl killed mid-way leaves complete records behind (the known-URL store only points
at flushed ones). A document carries ``raw_warc`` (path relative to the data directory),
``raw_offset`` and ``raw_length``; :func:`read_record` gets the page back (``dealwatch reextract``,
the crawler's recovery of pages it archived but never indexed, the UI's "raw page" view) and
:func:`iter_pages` walks a whole file. The one reader checks that a stored path stays inside the
data directory.
"""

from __future__ import annotations

import io
import logging
import os
import re
import zlib
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from w3lib.encoding import resolve_encoding
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from dealwatch.dates import parse_datetime, utcnow

log = logging.getLogger(__name__)

# the body is stored decoded: these headers would no longer describe it
_DROP_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}
_PAGE_RECORDS = ("response", "resource")
# The charset the crawler decoded the page with (Scrapy's detection: HTTP header, BOM, <meta>, or
# its guess), kept with the record so a page read back decodes to the same text (a WARC named
# field of our own; other readers ignore it).
CHARSET_HEADER = "DealWatch-Charset"
# gzip level of a record: on the real news pages (292 KB on average) level 9 (warcio's) costs
# 8.9 ms of CPU per page for files 0.187 of the page size, level 3 2.3 ms for 0.211.
GZIP_LEVEL = 3


class RawPageError(ValueError):
    """A stored raw page that cannot be read (missing file, damaged record, path outside the data dir)."""


class RawStorageError(OSError):
    """A raw page could not be written (disk full, file too large, no permission): nothing of it
    is kept. ``path`` is the WARC file, ``reason`` the system's words."""

    def __init__(self, path: Path, reason: str, errno_: int | None = None):
        super().__init__(f"cannot write raw pages to {path}: {reason}")
        self.errno = errno_
        self.path = path
        self.reason = reason


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
    encoding: str | None = None     # the charset the crawler decoded it with (None: not recorded)


def build_record(url: str, status: int, headers: list[tuple[str, str]], body: bytes,
                 encoding: str | None = None, protocol: str = "HTTP/1.1") -> bytes:
    """One response record as a complete gzip member, ready to append to a ``.warc.gz`` file.

    Pure (no file): the crawler builds it off its event loop and appends it with
    :meth:`WarcWriter.append`. ``encoding`` is the charset the page was decoded with."""
    kept = [(k, v) for k, v in headers if k.lower() not in _DROP_HEADERS]
    kept.append(("Content-Length", str(len(body))))
    http_headers = StatusAndHeaders(f"{status} OK" if status == 200 else str(status), kept, protocol=protocol)
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False)
    extra = {CHARSET_HEADER: encoding} if encoding else None
    record = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http_headers,
                                       warc_headers_dict=extra)
    writer.write_record(record)
    return zlib.compress(buf.getvalue(), GZIP_LEVEL, wbits=31)   # wbits 31: a gzip member


class WarcWriter:
    """Appends response records for one source and run.

    A record is appended whole or not at all: when the write fails (``ENOSPC``, ``EFBIG``) the
    file is cut back to where the record began and :class:`RawStorageError` is raised."""

    def __init__(self, data_dir: Path, raw_dir: Path, source: str, run_id: str):
        self.data_dir = Path(data_dir)
        self.path = Path(raw_dir) / source / f"{utcnow():%Y%m%d}-{run_id}.warc.gz"
        self._fh: io.BufferedWriter | None = None
        self._end = 0

    @property
    def relative_path(self) -> str:
        try:
            return str(self.path.relative_to(self.data_dir))
        except ValueError:
            return str(self.path)

    def _open(self) -> io.BufferedWriter:
        if self._fh is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.path, "ab")
            except OSError as exc:
                raise RawStorageError(self.path, exc.strerror or str(exc), exc.errno) from exc
            self._end = self._fh.seek(0, io.SEEK_END)
        return self._fh

    @property
    def next_offset(self) -> int:
        """Where the next record will begin (the crawler points the known-URL store there first)."""
        self._open()
        return self._end

    def append(self, record: bytes) -> tuple[str, int, int]:
        """Append a record made by :func:`build_record` and flush it; returns (relative path, offset, length)."""
        fh = self._open()
        offset = self._end
        try:
            fh.write(record)
            fh.flush()
        except OSError as exc:
            self._cut_back(offset)
            raise RawStorageError(self.path, exc.strerror or str(exc), exc.errno) from exc
        self._end = offset + len(record)
        return self.relative_path, offset, len(record)

    def _cut_back(self, offset: int) -> None:
        """Forget the part of a record that did not fit (the buffered rest is dropped with the handle)."""
        fh, self._fh = self._fh, None
        try:
            fh.close()
        except OSError:
            pass   # flushing what was buffered failed too: the truncate below removes it
        try:
            os.truncate(self.path, offset)
        except OSError as exc:
            log.error("could not cut %s back to %d bytes after a failed write: %s", self.path, offset, exc)

    def write(self, url: str, status: int, headers: list[tuple[str, str]], body: bytes,
              encoding: str | None = None, protocol: str = "HTTP/1.1") -> tuple[str, int, int]:
        """Append one response record; returns (relative path, offset, length)."""
        return self.append(build_record(url, status, headers, body, encoding, protocol))

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def resolve(data_dir: Path, warc: str) -> Path:
    """The file a stored ``raw_warc`` names; RawPageError when it would leave the data directory."""
    base = Path(data_dir).resolve()
    path = (base / warc).resolve()
    if base not in path.parents:
        raise RawPageError(f"raw page path {warc!r} points outside the data directory")
    return path


_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)


def _charset(record: Any, content_type: str) -> str | None:
    """The charset the page was decoded with when it was crawled; for records written before it
    was kept, the one its HTTP Content-Type declares."""
    kept = record.rec_headers.get_header(CHARSET_HEADER)
    if kept:
        return kept
    m = _CHARSET_RE.search(content_type or "")
    return (resolve_encoding(m.group(1)) or m.group(1)) if m else None   # iso-8859-1 -> cp1252, as Scrapy


def _to_page(record: Any, warc: str, offset: int, length: int) -> RawPage:
    body = record.content_stream().read()
    # the last Content-Type when a response sent several: the one Scrapy (so the crawler) read the page by
    ctype = next((v for k, v in reversed(record.http_headers.headers) if k.lower() == "content-type"), "") \
        if record.http_headers else ""
    status = int(record.http_headers.get_statuscode() or 200) if record.http_headers else 200
    return RawPage(url=record.rec_headers.get_header("WARC-Target-URI"), body=body, content_type=ctype or "",
                   status=status, warc=warc, offset=offset, length=length,
                   fetched_at=parse_datetime(record.rec_headers.get_header("WARC-Date")),
                   encoding=_charset(record, ctype or ""))


def read_record(data_dir: Path, warc: str, offset: int) -> RawPage:
    """The page stored at ``offset`` of ``warc`` (relative to ``data_dir``)."""
    path = resolve(data_dir, warc)
    try:
        with open(path, "rb") as fh:
            fh.seek(int(offset))
            for record in ArchiveIterator(fh):
                if record.rec_type in _PAGE_RECORDS:
                    return _to_page(record, warc, int(offset), 0)
    except OSError as exc:
        raise RawPageError(f"cannot read {warc}: {exc.strerror or exc}") from exc
    except Exception as exc:  # warcio on a damaged record: a clear reason, not its traceback
        raise RawPageError(f"damaged WARC record at {warc}:{offset}: {type(exc).__name__}: {exc}") from exc
    raise RawPageError(f"no response record at {warc}:{offset}")


def raw_page_of(data_dir: Path, doc: dict[str, Any]) -> RawPage | None:
    """The archived HTTP response of a document, or None when it has none (or it cannot be read)."""
    if not doc.get("raw_warc") or doc.get("raw_offset") is None:
        return None
    try:
        return read_record(data_dir, doc["raw_warc"], int(doc["raw_offset"]))
    except RawPageError as exc:
        log.warning("raw page of %s: %s", doc.get("id") or doc.get("url"), exc)
        return None


def has_raw_page(data_dir: Path, doc: dict[str, Any]) -> bool:
    if not doc.get("raw_warc") or doc.get("raw_offset") is None:
        return False
    try:
        return resolve(data_dir, doc["raw_warc"]).is_file()
    except RawPageError:
        return False


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
            yield replace(page, offset=it.get_record_offset(), length=it.get_record_length())
