"""Reading one WARC (or ARC) file record by record, from any point, through damage and broken streams.

WARC files are read with FastWARC (chosen over warcio by measurement: it reads the same records
about twice as fast, see BENCHMARKS.md); ARC files with warcio, the one of the two that reads
them. Both WARC/1.0 and 1.1, gzip per record, one gzip stream for the whole file, or plain.

Where a record starts is its byte offset in the file when the file can be entered there (plain
files, and gzip files with one gzip member per record, the standard layout): a checkpoint then
says "go on at offset N" and the file is opened right there (a local file is seeked, a URL read
with ``Range``). A file compressed as one gzip stream cannot be entered in the middle: it is
checkpointed by the number of records read, and resuming reads past them again without doing
anything with them (mode ``skip``).

Damage is counted, never a crash: a gzip member that does not decompress, or a record that does not
parse, is reported as a :class:`Damage` and the reader goes on at the next gzip member (or
``WARC/1.`` line) that reads. A remote stream that breaks is reopened where it was, a few times
with growing pauses. The importer decides from a record's headers whether its payload is worth
reading at all (``want_body``): the payloads of requests, redirects and images are never read.
"""

from __future__ import annotations

import io
import logging
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Callable, Iterator

from fastwarc import ArchiveIterator as FastArchiveIterator

from crawler.backfill.inputs import InputError, StreamInterrupted, WarcInput
from dealwatch.dates import parse_datetime

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b\x08"
HEAD_BYTES = 1 << 20            # bytes read to tell a gzip-per-record file from a whole-file gzip
SCAN_WINDOW = 1 << 20           # bytes read at a time when looking for the next readable record
MAX_SCAN = 256 << 20            # give up on a file after this many unreadable bytes in a row
SEEK, SKIP = "seek", "skip"


@dataclass
class Record:
    """One record's headers, and its payload when the importer asked for it."""

    type: str                       # response, revisit, request, metadata, warcinfo, resource, ...
    offset: int | None              # byte offset of the record in the file (None: a whole-file gzip)
    ordinal: int                    # records before this one in the file (of every type)
    url: str = ""
    date: datetime | None = None    # WARC-Date: when the page was captured
    status: int | None = None       # HTTP status (response and revisit records)
    http_headers: list[tuple[str, str]] = field(default_factory=list)
    content_length: int = 0         # length of the record's block (HTTP headers + payload)
    truncated: str = ""             # WARC-Truncated: length, time, disconnect, unspecified
    payload_digest: str = ""
    refers_to_uri: str = ""         # revisit records: the capture they repeat
    refers_to_date: str = ""
    body: bytes | None = None       # the HTTP payload, transfer- and content-decoded (when read)
    skip: str | None = None         # set by the importer: why the record is not imported

    def header(self, name: str) -> str:
        name = name.lower()
        for k, v in self.http_headers:
            if k.lower() == name:
                return v
        return ""

    @property
    def content_type(self) -> str:
        return self.header("Content-Type")


@dataclass
class Damage:
    """A stretch of the file that could not be read (counted, then skipped)."""

    reason: str                     # bad_gzip | damaged
    offset: int | None
    message: str


@dataclass(frozen=True)
class Position:
    """Where reading starts: a byte offset (mode seek) or a number of records to pass (mode skip)."""

    offset: int = 0
    ordinal: int = 0
    mode: str | None = None         # None: not known yet (a fresh file; found from its first bytes)


# --- payloads ----------------------------------------------------------------------------

def _dechunk(data: bytes) -> bytes:
    out = []
    pos = 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            raise ValueError("chunk size line missing")
        size = int(data[pos:eol].split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            return b"".join(out)
        start = eol + 2
        out.append(data[start:start + size])
        pos = start + size + 2
        if pos > len(data) + 2:
            raise ValueError("chunk longer than the payload")


def decode_payload(raw: bytes, record: Record) -> bytes:
    """The payload as the page's bytes: chunked transfer undone, gzip/deflate content decoded.

    A payload that does not decode is returned as it is (the extractor then finds it is not HTML)."""
    if "chunked" in record.header("Transfer-Encoding").lower():
        try:
            raw = _dechunk(raw)
        except ValueError:
            pass  # some writers store the payload already de-chunked but keep the header
    encoding = record.header("Content-Encoding").lower().strip()
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompress(raw, 47)
        if encoding == "deflate":
            try:
                return zlib.decompress(raw)
            except zlib.error:
                return zlib.decompress(raw, -15)
    except zlib.error:
        return raw
    return raw


# --- layouts -------------------------------------------------------------------------------

def _record_length(block: bytes) -> int | None:
    """Total length of the WARC record at the start of ``block`` (headers, content, trailing CRLFs)."""
    end = block.find(b"\r\n\r\n")
    if not block.startswith(b"WARC/") or end < 0:
        return None
    for line in block[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return end + 4 + int(value.strip()) + 4
            except ValueError:
                return None
    return None


def layout_of(head: bytes) -> tuple[str, bool]:
    """(mode, gzipped) of a WARC file from its first bytes; InputError when it is not a WARC file."""
    if head.startswith(GZIP_MAGIC):
        d = zlib.decompressobj(31)
        try:
            first = d.decompress(head, 4 * HEAD_BYTES)
        except zlib.error as exc:
            raise InputError(f"the first gzip member does not decompress: {exc}") from exc
        if not first.startswith(b"WARC/"):
            raise InputError("not a WARC file (its first record does not start with WARC/)")
        length = _record_length(first)
        if d.eof and length is not None and len(first) <= length + 4:
            return SEEK, True       # the first member holds exactly the first record
        return SKIP, True           # several records in one member: one gzip stream for the file
    if head.startswith(b"WARC/"):
        return SEEK, False
    raise InputError("not a WARC file (neither gzip nor WARC/ at its start)")


class _Counted(io.RawIOBase):
    """A stream that knows how many bytes were read from it (FastWARC asks ``tell()``), with some of
    its first bytes possibly already read (``head``)."""

    def __init__(self, raw: BinaryIO, head: bytes = b""):
        super().__init__()
        self._raw = raw
        self._head = memoryview(head)
        self._pos = 0
        self._pending: StreamInterrupted | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        """Fill ``b`` as far as the stream goes (FastWARC sniffs the compression from one read)."""
        n = 0
        if len(self._head):
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
        if self._pending is not None and not n:
            exc, self._pending = self._pending, None
            raise exc
        while n < len(b) and self._pending is None:
            try:
                data = self._raw.read(len(b) - n)
            except StreamInterrupted as exc:
                if not n:
                    raise
                self._pending = exc     # hand over what arrived; the break is raised at the next read
                break
            if not data:
                break
            b[n:n + len(data)] = data
            n += len(data)
        self._pos += n
        return n

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def _sniff(stream: BinaryIO) -> bytes:
    """The first bytes of a file, as few as tell its layout: the first gzip member (or 64 KB of a plain
    file), at most :data:`HEAD_BYTES`."""
    head = _read_head(stream, 4096)
    if not head.startswith(GZIP_MAGIC):
        return head + _read_head(stream, 65536 - len(head)) if len(head) == 4096 else head
    while len(head) < HEAD_BYTES:
        d = zlib.decompressobj(31)
        try:
            d.decompress(head)
        except zlib.error:
            return head
        if d.eof:
            return head
        more = _read_head(stream, len(head))
        if not more:
            return head
        head += more
    return head


def _read_head(stream: BinaryIO, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        chunk = stream.read(min(1 << 16, n - got))
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


# --- the reader ----------------------------------------------------------------------------

def _is_panic(exc: BaseException) -> bool:
    return type(exc).__name__ == "PanicException"


_TYPES = {2: "warcinfo", 4: "response", 8: "resource", 16: "request", 32: "metadata", 64: "revisit",
          128: "conversion", 256: "continuation"}


class RecordReader:
    """Iterate over the records of one input from a position: :class:`Record` and :class:`Damage`.

    ``want_body(record)`` is asked with the headers of each record; the payload is read (and the
    record's ``body`` set) only when it answers True. ``mode`` is known once iteration started.
    """

    def __init__(self, inp: WarcInput, start: Position | None = None,
                 want_body: Callable[[Record], bool] = lambda r: r.type in ("response", "revisit"),
                 retries: int = 5, backoff: float = 1.0, timeout: float = 60.0):
        self.inp = inp
        self.start = start or Position()
        self.want_body = want_body
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.mode: str | None = self.start.mode
        self.gzipped = False            # found from the first bytes read
        self.reconnects = 0

    def __iter__(self) -> Iterator[Record | Damage]:
        if self.inp.is_arc:
            yield from self._arc()
        else:
            yield from self._warc()

    # the pause before reconnecting, and the give-up
    def _pause(self, attempts: int, exc: Exception) -> None:
        if attempts > self.retries:
            raise InputError(f"{self.inp.location}: the stream broke {attempts} times in a row; last: {exc}") from exc
        self.reconnects += 1
        delay = self.backoff * 2 ** (attempts - 1)
        log.warning("%s: %s; reconnecting in %.1f s", self.inp.name, exc, delay)
        time.sleep(delay)

    def _open(self, offset: int, attempts: list[int]) -> BinaryIO:
        while True:
            try:
                return self.inp.open_at(offset, timeout=self.timeout)
            except StreamInterrupted as exc:
                attempts[0] += 1
                self._pause(attempts[0], exc)

    def _warc(self) -> Iterator[Record | Damage]:
        ordinal = self.start.ordinal
        pos = self.start.offset if self.mode == SEEK else 0
        to_pass = self.start.ordinal if self.mode == SKIP else 0   # records to read past (mode skip)
        skip_first = False          # the record at ``pos`` was handled before the stream broke
        resyncing = False           # reopened at a guessed record start: a failure there is not counted again
        attempts = [0]
        while True:
            stream = self._open(pos, attempts)
            current: int | None = None      # offset of the record in hand
            current_done = False            # ... already yielded
            passed = 0                      # records of this stream read past (mode skip)
            try:
                if self.mode is None:
                    head = _sniff(stream)
                    self.mode, self.gzipped = layout_of(head)
                elif pos == self.start.offset or self.mode == SKIP:
                    head = _read_head(stream, len(GZIP_MAGIC))
                    self.gzipped = head == GZIP_MAGIC
                else:
                    head = b""
                stream = _Counted(stream, head)
                it = FastArchiveIterator(stream, parse_http=True, auto_decode="none")
                for rec in it:
                    offset = pos + rec.stream_pos if self.mode == SEEK else None
                    if skip_first:
                        skip_first = False
                        if offset == pos:
                            current, current_done = offset, True
                            continue
                    if self.mode == SKIP and passed < to_pass:
                        passed += 1
                        continue
                    current, current_done = offset, False
                    record = self._record(rec, offset, ordinal)
                    if not record.url and record.type in ("response", "revisit", "request"):
                        # a record cut off mid-way (a file that ends in the middle of its last record)
                        resyncing = False
                        current_done = True
                        yield Damage("damaged", offset, f"{record.type} record without a target URI (cut off?)")
                        ordinal += 1
                        continue
                    if self.want_body(record):
                        record.body = decode_payload(rec.reader.read(), record)
                    resyncing = False
                    attempts[0] = 0
                    current_done = True
                    yield record
                    ordinal += 1
                return
            except StreamInterrupted as exc:
                attempts[0] += 1
                self._pause(attempts[0], exc)
                if self.mode == SEEK:
                    if current is not None:
                        pos, skip_first = current, current_done
                else:
                    pos, to_pass = 0, ordinal
            except BaseException as exc:  # noqa: B036 - FastWARC's Rust panics are BaseExceptions
                if isinstance(exc, InputError) or not (isinstance(exc, (OSError, ValueError)) or _is_panic(exc)):
                    raise
                reason = "bad_gzip" if self.gzipped else "damaged"
                where = current if current is not None else pos
                if not resyncing:
                    yield Damage(reason, where, f"{type(exc).__name__}: {exc}")
                if self.mode != SEEK:
                    return      # one gzip stream for the whole file: nothing after the damage is readable
                nxt = self._next_record_start(where + 1, attempts)
                if nxt is None:
                    return
                pos, skip_first, resyncing = nxt, False, True
            finally:
                stream.close()

    def _record(self, rec, offset: int | None, ordinal: int) -> Record:
        h = rec.headers
        record = Record(
            type=_TYPES.get(int(rec.record_type), "unknown"), offset=offset, ordinal=ordinal,
            url=(h.get("WARC-Target-URI") or "").strip().strip("<>"),
            date=parse_datetime(h.get("WARC-Date")), content_length=int(rec.content_length or 0),
            truncated=h.get("WARC-Truncated") or "", payload_digest=h.get("WARC-Payload-Digest") or "",
            refers_to_uri=(h.get("WARC-Refers-To-Target-URI") or "").strip().strip("<>"),
            refers_to_date=h.get("WARC-Refers-To-Date") or "",
        )
        if rec.is_http:
            http = rec.http_headers
            record.status = http.status_code
            record.http_headers = list(http.items())
        return record

    def _next_record_start(self, after: int, attempts: list[int]) -> int | None:
        """The offset of the next gzip member (or plain ``WARC/1.`` line) after ``after`` that reads."""
        scanned = 0
        start = after
        while scanned < MAX_SCAN:
            stream = self._open(start, attempts)
            try:
                window = _read_head(stream, SCAN_WINDOW + 64 * 1024)
            except StreamInterrupted:
                continue
            finally:
                stream.close()
            if not window:
                return None
            limit = min(len(window), SCAN_WINDOW)
            found = self._candidate(window, limit)
            if found is not None:
                return start + found
            if len(window) <= SCAN_WINDOW:
                return None     # end of file
            start += SCAN_WINDOW
            scanned += SCAN_WINDOW
        log.warning("%s: no readable record in %d MB after offset %d; the rest is skipped",
                    self.inp.name, MAX_SCAN >> 20, after)
        return None

    def _candidate(self, window: bytes, limit: int) -> int | None:
        i = 0
        while True:
            if self.gzipped:
                i = window.find(GZIP_MAGIC, i, limit)
                if i < 0:
                    return None
                try:
                    if zlib.decompressobj(31).decompress(window[i:i + 64 * 1024], 16).startswith(b"WARC/"):
                        return i
                except zlib.error:
                    pass
            else:
                i = window.find(b"WARC/1.", i, limit)
                if i < 0:
                    return None
                if i == 0 or window[i - 1:i] == b"\n":
                    return i
            i += 1

    def _arc(self) -> Iterator[Record | Damage]:
        """ARC files (and WARC files warcio must read): warcio, offsets of gzip members or plain records."""
        from warcio.archiveiterator import ArchiveIterator

        self.mode = SEEK
        pos, ordinal, skip_first = self.start.offset, self.start.ordinal, False
        attempts = [0]
        while True:
            stream = self._open(pos, attempts)
            current, current_done = None, False
            try:
                it = ArchiveIterator(stream, arc2warc=True)
                for rec in it:
                    h = rec.rec_headers
                    record = Record(type=rec.rec_type or "unknown", offset=None, ordinal=ordinal,
                                    url=(h.get_header("WARC-Target-URI") or "").strip("<>"),
                                    date=parse_datetime(h.get_header("WARC-Date")),
                                    content_length=int(h.get_header("Content-Length") or 0),
                                    truncated=h.get_header("WARC-Truncated") or "")
                    if rec.http_headers:
                        record.status = int(rec.http_headers.get_statuscode() or 0) or None
                        record.http_headers = list(rec.http_headers.headers)
                    # warcio: the payload is read before the offset is asked for (asking reads past it)
                    body = rec.content_stream().read() if self.want_body(record) else None
                    offset = pos + it.get_record_offset()
                    if skip_first:
                        skip_first = False
                        if offset == pos:
                            current, current_done = offset, True
                            continue
                    current, current_done = offset, False
                    record.offset, record.body = offset, body      # warcio decodes chunked and gzip itself
                    attempts[0] = 0
                    current_done = True
                    yield record
                    ordinal += 1
                return
            except StreamInterrupted as exc:
                attempts[0] += 1
                self._pause(attempts[0], exc)
                if current is not None:
                    pos, skip_first = current, current_done
            except Exception as exc:  # noqa: BLE001 - warcio's own errors on a damaged ARC file: counted
                yield Damage("damaged", current if current is not None else pos, f"{type(exc).__name__}: {exc}")
                return
            finally:
                stream.close()
