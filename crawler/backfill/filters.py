"""What an import keeps: the options of ``dealwatch import`` and the sources a page belongs to.

:class:`ImportOptions` holds the filters (``--domain``, ``--since/--until``, ``--lang``, the
prefilter or ``--all``); its :meth:`~ImportOptions.signature` names them in the checkpoints, so a
file imported again with other filters is read again. :class:`SourceMap` tells from a page's host
which configured source (``seeds/sources.yaml`` or another sources file) it belongs to: the
source's name and language go with the article exactly as in a crawl, and a source's
``article_patterns`` decide which of its pages are articles. A page of a host no source names is
its own source (the host without ``www.``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from crawler.sources import Source, load_sources


@dataclass(frozen=True)
class ImportOptions:
    prefilter: bool = True                      # False: --all
    domains: tuple[str, ...] = ()               # hosts (and their subdomains) to keep; empty: all
    since: datetime | None = None               # publication time, inclusive
    until: datetime | None = None               # publication time, exclusive
    langs: tuple[str, ...] = ()                 # ISO 639-1 codes to keep; empty: all

    def signature(self) -> str:
        """The filters in a few words (part of a checkpoint's identity)."""
        parts = ["prefilter" if self.prefilter else "all"]
        if self.domains:
            parts.append("domain=" + ",".join(sorted(self.domains)))
        if self.since:
            parts.append(f"since={self.since:%Y-%m-%dT%H:%M}")
        if self.until:
            parts.append(f"until={self.until:%Y-%m-%dT%H:%M}")
        if self.langs:
            parts.append("lang=" + ",".join(sorted(self.langs)))
        return ";".join(parts)

    def host_allowed(self, host: str) -> bool:
        return not self.domains or any(host == d or host.endswith("." + d) for d in self.domains)

    def captured_too_early(self, captured: datetime | None) -> bool:
        """A page captured (a day of clock slack aside) before ``since`` cannot have been published after it."""
        return bool(self.since and captured and captured < self.since - timedelta(days=1))

    def date_allowed(self, when: datetime | None) -> bool:
        if when is None:
            return not (self.since or self.until)
        return (self.since is None or when >= self.since) and (self.until is None or when < self.until)

    def lang_allowed(self, lang: str | None) -> bool:
        return not self.langs or (lang or "") in self.langs


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().rstrip(".")


@dataclass(frozen=True)
class PageSource:
    name: str
    language: str = ""
    patterns: tuple[re.Pattern[str], ...] = ()

    def is_article(self, url: str) -> bool:
        """The source's ``article_patterns`` (on the path, as the spider applies them); none: every page."""
        if not self.patterns:
            return True
        path = urlsplit(url).path or "/"
        return any(p.search(path) for p in self.patterns)


@dataclass
class SourceMap:
    """Host -> configured source (the longest matching allowed domain wins)."""

    by_domain: dict[str, PageSource] = field(default_factory=dict)

    @classmethod
    def from_sources(cls, sources: list[Source]) -> "SourceMap":
        out: dict[str, PageSource] = {}
        for s in sources:
            page_source = PageSource(s.name, s.language, tuple(s.compiled_patterns()))
            for d in s.allowed_domains:
                out.setdefault(d.lower(), page_source)
        return cls(out)

    @classmethod
    def from_file(cls, path: str | Path | None) -> "SourceMap":
        if path is None or not Path(path).exists():
            return cls()
        return cls.from_sources(load_sources(path))

    def domains(self) -> tuple[str, ...]:
        return tuple(sorted(self.by_domain))

    def lookup(self, host: str) -> PageSource:
        labels = host.split(".")
        for i in range(len(labels)):
            hit = self.by_domain.get(".".join(labels[i:]))
            if hit is not None:
                return hit
        return PageSource(host[4:] if host.startswith("www.") else host)
