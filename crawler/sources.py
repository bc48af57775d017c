"""Sources: the crawl configuration read from ``seeds/sources.yaml`` (or the demo's file).

Every later stage — the scheduler, the spiders, the run report — works from the
:class:`Source` records built here. Bad input fails early with a :class:`SourcesError`
that names the file, the source and the field, so a typo is fixed in one look.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

NAME_RE = re.compile(r"^[a-z0-9-]+$")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LIST_FIELDS = ("sections", "feeds", "sitemaps", "allowed_domains", "article_patterns")
_KNOWN_FIELDS = {"name", "language", "homepage", "schedule", "time_limit", *_LIST_FIELDS,
                 "description", "enabled"}


class SourcesError(ValueError):
    """A sources file that cannot be used, with the place of the problem in the message."""


def parse_duration(value: str | int | float) -> float:
    """``"30s"``, ``"15m"``, ``"1h"``, ``"1d"`` (or a number of seconds) -> seconds."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        if value <= 0:
            raise ValueError(f"duration must be positive: {value!r}")
        return float(value)
    m = _DURATION_RE.match(str(value))
    if not m:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 15m, 1h, 1d)")
    seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if seconds <= 0:
        raise ValueError(f"duration must be positive: {value!r}")
    return seconds


@dataclass(frozen=True)
class Schedule:
    """When a source runs: every ``interval`` seconds, or on a 5-field ``cron`` expression."""

    interval: float | None = None
    cron: str | None = None


@dataclass(frozen=True)
class Source:
    name: str
    language: str = ""
    homepage: str = ""
    sections: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    article_patterns: tuple[str, ...] = ()
    schedule: Schedule = field(default_factory=lambda: Schedule(interval=3600.0))
    time_limit: float | None = None     # seconds; None: the crawl_time_limit setting (see time_limit())
    description: str = ""

    @property
    def start_urls(self) -> tuple[str, ...]:
        """Pages the spider starts from (feeds and sitemaps first: they name articles directly)."""
        pages = list(self.sections)
        if self.homepage and self.homepage not in pages:
            pages.insert(0, self.homepage)
        return (*self.feeds, *self.sitemaps, *pages)

    def compiled_patterns(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.article_patterns]

    def allows(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        if not self.allowed_domains:
            return True
        return any(host == d or host.endswith("." + d) for d in self.allowed_domains)

    def configured(self):
        """What the archive's source registry keeps of this source (shown on every UI's /sources)."""
        from indexer.source_registry import ConfiguredSource

        sch = self.schedule
        schedule = f"every {sch.interval / 60:g} min" if sch.interval else f"cron {sch.cron}"
        return ConfiguredSource(name=self.name, language=self.language, homepage=self.homepage, schedule=schedule)


def _schedule(raw: Any, where: str) -> Schedule:
    if not isinstance(raw, dict) or len(raw) != 1 or not ({"interval", "cron"} & set(raw)):
        raise SourcesError(f"{where}: schedule must be {{interval: 1h}} or {{cron: '*/30 * * * *'}}, got {raw!r}")
    if "interval" in raw:
        try:
            return Schedule(interval=parse_duration(raw["interval"]))
        except ValueError as exc:
            raise SourcesError(f"{where}: schedule.interval: {exc}") from None
    cron = str(raw["cron"]).strip()
    if len(cron.split()) != 5:
        raise SourcesError(f"{where}: schedule.cron must have 5 fields (min hour day month weekday), got {cron!r}")
    return Schedule(cron=cron)


def _url_list(raw: Any, where: str, fname: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise SourcesError(f"{where}: {fname} must be a list")
    out = []
    for item in raw:
        if not isinstance(item, str) or not item.strip():
            raise SourcesError(f"{where}: {fname} has an empty or non-text entry: {item!r}")
        item = item.strip()
        if fname not in ("allowed_domains", "article_patterns"):
            parts = urlsplit(item)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise SourcesError(f"{where}: {fname} entry is not an http(s) URL: {item!r}")
        out.append(item)
    return tuple(out)


def _build(raw: Any, defaults: dict[str, Any], where: str) -> Source:
    if not isinstance(raw, dict):
        raise SourcesError(f"{where}: each source must be a mapping, got {type(raw).__name__}")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SourcesError(f"{where}: name must match [a-z0-9-]+, got {name!r}")
    where = f"{where} ({name})"
    unknown = set(raw) - _KNOWN_FIELDS
    if unknown:
        raise SourcesError(f"{where}: unknown field(s) {sorted(unknown)}; known: {sorted(_KNOWN_FIELDS)}")
    lists = {f: _url_list(raw.get(f), where, f) for f in _LIST_FIELDS}
    for pattern in lists["article_patterns"]:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise SourcesError(f"{where}: article_patterns: bad regular expression {pattern!r}: {exc}") from None
    homepage = raw.get("homepage") or ""
    if homepage:
        homepage = _url_list([homepage], where, "homepage")[0]
    if not (homepage or lists["sections"] or lists["feeds"] or lists["sitemaps"]):
        raise SourcesError(f"{where}: needs at least one of homepage, sections, feeds, sitemaps")
    allowed = tuple(d.lower() for d in lists["allowed_domains"])
    if not allowed:  # default: the hosts the source's own URLs live on
        hosts = {urlsplit(u).hostname for u in (homepage, *lists["sections"], *lists["feeds"], *lists["sitemaps"]) if u}
        allowed = tuple(sorted(h.lower() for h in hosts if h))
    language = raw.get("language", defaults.get("language", ""))
    if language and (not isinstance(language, str) or not re.match(r"^[a-z]{2}$", language)):
        raise SourcesError(f"{where}: language must be an ISO 639-1 code like 'en' or 'pl', got {language!r}")
    schedule = _schedule(raw.get("schedule", defaults.get("schedule", {"interval": "1h"})), where)
    limit = raw.get("time_limit", defaults.get("time_limit"))
    try:
        limit_s = None if limit is None else parse_duration(limit)
    except ValueError as exc:
        raise SourcesError(f"{where}: time_limit: {exc}") from None
    return Source(name=name, language=language or "", homepage=homepage, sections=lists["sections"],
                  feeds=lists["feeds"], sitemaps=lists["sitemaps"], allowed_domains=allowed,
                  article_patterns=lists["article_patterns"], schedule=schedule, time_limit=limit_s,
                  description=str(raw.get("description") or ""))


def parse_sources(data: Any, origin: str = "<sources>") -> list[Source]:
    """Validate an already-parsed sources document (``{defaults: ..., sources: [...]}``)."""
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        raise SourcesError(f"{origin}: expected a mapping with a 'sources' list")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise SourcesError(f"{origin}: defaults must be a mapping")
    sources: list[Source] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["sources"]):
        src = _build(raw, defaults, f"{origin}: sources[{i}]")
        if src.name in seen:
            raise SourcesError(f"{origin}: sources[{i}]: duplicate source name {src.name!r}")
        if raw.get("enabled", True) is False:
            seen.add(src.name)
            continue
        seen.add(src.name)
        sources.append(src)
    return sources


def load_sources(path: str | Path) -> list[Source]:
    """Read and validate a sources YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourcesError(f"{path}: cannot read sources file: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SourcesError(f"{path}: not valid YAML: {exc}") from None
    return parse_sources(data, str(path))


def time_limit(source: Source, settings) -> float:
    """How long a run of ``source`` may take, in seconds: its own ``time_limit`` (or the file's
    ``defaults.time_limit``), else the ``crawl_time_limit`` setting."""
    return float(source.time_limit if source.time_limit is not None else settings.crawl_time_limit)


def select_sources(sources: list[Source], names: list[str], origin: str = "") -> list[Source]:
    """The named sources, in the order given; unknown names raise with the known ones listed."""
    by_name = {s.name: s for s in sources}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise SourcesError(f"{origin or 'sources'}: unknown source(s) {missing}; known: {sorted(by_name)}")
    return [by_name[n] for n in names]
