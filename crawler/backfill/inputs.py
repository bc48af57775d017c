"""What to import: the SOURCE arguments of ``dealwatch import`` turned into a list of WARC inputs.

A source is a WARC or ARC file, a folder of them (searched recursively), a glob pattern, an
http(s) URL of one file, or (through :mod:`crawler.backfill.ccnews`) the files of CC-NEWS months.
Each :class:`WarcInput` has a stable ``key`` (the identity of its checkpoint: an absolute path, a
URL, or a ``cc-news:`` path that does not depend on the mirror it is read from) and can be opened
at any byte offset: a local file is seeked, a URL is read as a stream with an HTTP ``Range``
request, never downloaded whole. A stream that breaks raises :class:`StreamInterrupted`, which the
reader answers by reconnecting where it was.
"""

from __future__ import annotations

import glob
import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
_CHUNK = 1 << 16


class InputError(ValueError):
    """A source that cannot be read at all (missing file, HTTP error), with a sentence for the user."""


class StreamInterrupted(OSError):
    """A remote file's stream ended or failed before its last byte (reconnect and go on)."""


@dataclass(frozen=True)
class WarcInput:
    key: str            # checkpoint identity
    location: str       # local path or http(s) URL

    @property
    def is_remote(self) -> bool:
        return self.location.startswith(("http://", "https://"))

    @property
    def is_arc(self) -> bool:
        return self.location.lower().split("?", 1)[0].endswith((".arc", ".arc.gz"))

    @property
    def name(self) -> str:
        return self.location.rstrip("/").rsplit("/", 1)[-1]

    def open_at(self, offset: int = 0, timeout: float = 60.0) -> BinaryIO:
        """The file's bytes from ``offset`` on (a local file seeked, a URL streamed from there)."""
        if self.is_remote:
            return HttpStream(self.location, offset, timeout)
        try:
            fh = open(self.location, "rb")
        except OSError as exc:
            raise InputError(f"cannot read {self.location}: {exc.strerror or exc}") from exc
        fh.seek(offset)
        return fh


class HttpStream(io.RawIOBase):
    """A remote file read as a stream from a byte offset (``Range: bytes=N-``), never held whole.

    A server that ignores ``Range`` answers with the whole file: the bytes before the offset are
    then read and dropped. A connection that breaks or a body shorter than announced raises
    :class:`StreamInterrupted`.
    """

    def __init__(self, url: str, offset: int = 0, timeout: float = 60.0):
        super().__init__()
        self.url = url
        self._client = httpx.Client(timeout=timeout, follow_redirects=True)
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            self._resp = self._client.send(self._client.build_request("GET", url, headers=headers), stream=True)
        except httpx.TransportError as exc:
            self._client.close()
            raise StreamInterrupted(f"cannot connect to {url}: {type(exc).__name__}: {exc}") from exc
        self._eof = False
        if offset and self._resp.status_code == 416:      # asked beyond the end: nothing left
            self._eof = True
        elif self._resp.status_code >= 400:
            status = self._resp.status_code
            self.close()
            raise InputError(f"{url}: HTTP {status}")
        self._chunks = self._resp.iter_raw(_CHUNK)
        self._buf = memoryview(b"")
        if offset and self._resp.status_code == 200:       # Range ignored: skip to the offset
            self._discard(offset)

    def _discard(self, n: int) -> None:
        while n > 0:
            chunk = self._next_chunk()
            if chunk is None:
                return
            if len(chunk) > n:
                self._buf = chunk[n:]
                return
            n -= len(chunk)

    def _next_chunk(self) -> memoryview | None:
        if self._eof:
            return None
        try:
            return memoryview(next(self._chunks))
        except StopIteration:
            self._eof = True
            return None
        except httpx.HTTPError as exc:
            raise StreamInterrupted(f"{self.url}: the stream broke: {type(exc).__name__}: {exc}") from exc

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not len(self._buf):
            chunk = self._next_chunk()
            if chunk is None:
                return 0
            self._buf = chunk
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                self._resp.close()
            finally:
                self._client.close()
        super().close()


def _is_warc_name(path: Path) -> bool:
    return path.name.lower().endswith(WARC_SUFFIXES)


def _local(path: Path) -> WarcInput:
    resolved = path.resolve()
    return WarcInput(key=str(resolved), location=str(resolved))


def expand(source: str) -> list[WarcInput]:
    """The inputs one SOURCE argument names (files of a folder or glob in name order)."""
    if source.startswith(("http://", "https://")):
        return [WarcInput(key=source, location=source)]
    path = Path(source).expanduser()
    if path.is_file():
        return [_local(path)]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and _is_warc_name(p))
        if not files:
            raise InputError(f"no WARC or ARC files (*.warc, *.warc.gz, *.arc, *.arc.gz) under {path}")
        return [_local(p) for p in files]
    if any(ch in source for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
        files = [p for p in files if p.is_file()]
        if not files:
            raise InputError(f"no files match {source}")
        return [_local(p) for p in files]
    raise InputError(f"{source}: no such file, folder or URL")


def expand_all(sources: list[str]) -> list[WarcInput]:
    """Every input of every SOURCE, each file once, in the order given."""
    seen: set[str] = set()
    out: list[WarcInput] = []
    for source in sources:
        for inp in expand(source):
            if inp.key not in seen:
                seen.add(inp.key)
                out.append(inp)
    return out
