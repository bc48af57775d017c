"""The raw archived page of an article: one WARC record read from the data directory."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from dealwatch.settings import Settings

log = logging.getLogger(__name__)


def _path(settings: Settings, doc: dict[str, Any]) -> Path | None:
    name = doc.get("raw_warc")
    if not name or doc.get("raw_offset") is None:
        return None
    path = (settings.data_dir / name).resolve()
    data_dir = settings.data_dir.resolve()
    if data_dir not in path.parents:  # a stored path must never leave the data directory
        log.warning("raw_warc %r points outside the data directory", name)
        return None
    return path


def available(settings: Settings, doc: dict[str, Any]) -> bool:
    path = _path(settings, doc)
    return path is not None and path.is_file()


def read_record(settings: Settings, doc: dict[str, Any]) -> tuple[bytes, str] | None:
    """(body, content type) of the archived HTTP response, or None when it is not archived."""
    from warcio.archiveiterator import ArchiveIterator

    path = _path(settings, doc)
    if path is None or not path.is_file():
        return None
    with open(path, "rb") as fh:
        fh.seek(int(doc["raw_offset"]))
        for record in ArchiveIterator(fh):
            if record.rec_type not in ("response", "resource"):
                continue
            content_type = "text/html; charset=utf-8"
            if record.http_headers is not None:
                content_type = record.http_headers.get_header("Content-Type") or content_type
            body = record.content_stream().read()
            return body, content_type
    return None
