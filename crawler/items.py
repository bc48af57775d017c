"""Items passed from the spider through the item pipelines.

A :class:`PageItem` is one fetched article page on its way: archived to WARC
(:class:`~crawler.pipelines.RawArchivePipeline`), extracted and enriched in the worker pool
(:class:`~crawler.pipelines.ExtractPipeline`), then written to the index in batches
(:class:`~crawler.pipelines.IndexPipeline`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class PageItem:
    source: str
    language: str
    url: str                                  # the URL the response came from (after redirects)
    keys: list[str]                           # known-URL store keys this page answers for
    fetched_at: datetime
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list, repr=False)
    body: bytes = field(default=b"", repr=False)
    encoding: str | None = None
    lastmod: datetime | None = None           # feed/sitemap date that led here
    raw_warc: str | None = None
    raw_offset: int | None = None
    raw_length: int | None = None
    recovered: bool = False                   # re-read from the WARC after an interrupted run
    found_via: list[str] = field(default_factory=list)   # feed | sitemap | section | search:<source>
    outlet: str = ""                          # the publisher's name a search item gave
    timezone: str = ""                        # the source's zone for dates written without one
    doc: dict[str, Any] | None = field(default=None, repr=False)
