"""Sources: the crawl configuration read from ``seeds/sources.yaml`` (or the demo's file).

Every later stage — the scheduler, the spiders, the run report — works from the
:class:`Source` records built here. Bad input fails early with a :class:`SourcesError`
that names the file, the source and the field, so a typo is fixed in one look.

Two kinds of source: a **site** (its own feeds, sitemaps and sections, fetched inside its
``allowed_domains``) and a **search** source (``engine: google_news | bing_news | google_alerts``):
news-search feeds whose items link to many publishers. For a search source the user writes
``queries`` in plain words and the language (``lang``/``language``, optional ``country``); the
feed URLs are built here (:func:`search_feed_url`); a pasted Google Alerts Atom URL goes in
``feeds``. Every source may also name the manners it needs on the real web: ``user_agent``,
extra ``headers``, ``cookies``, a ``proxy`` and the ``timezone`` of dates written without one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

NAME_RE = re.compile(r"^[a-z0-9-]+$")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LIST_FIELDS = ("sections", "feeds", "sitemaps", "allowed_domains", "article_patterns", "exclude_patterns")
_SEARCH_FIELDS = {"engine", "queries", "lang", "country", "endpoint"}
_MANNERS_FIELDS = {"user_agent", "headers", "cookies", "proxy", "timezone"}
_KNOWN_FIELDS = {"name", "language", "homepage", "schedule", "time_limit", *_LIST_FIELDS,
                 "description", "enabled", *_SEARCH_FIELDS, *_MANNERS_FIELDS}

# the news-search engines: their public address (``endpoint`` overrides it, e.g. a local stand-in)
ENGINES = {"google_news": "https://news.google.com", "bing_news": "https://www.bing.com", "google_alerts": ""}
# the country a language's searches are run in, unless the source names one
_DEFAULT_COUNTRY = {"en": "US", "pl": "PL", "de": "DE", "fr": "FR", "es": "ES", "it": "IT", "cs": "CZ", "uk": "UA"}


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
    exclude_patterns: tuple[str, ...] = ()   # regexes searched in host + path: links never fetched as articles
    schedule: Schedule = field(default_factory=lambda: Schedule(interval=3600.0))
    time_limit: float | None = None     # seconds; None: the crawl_time_limit setting (see time_limit())
    description: str = ""
    # a search source: its engine and queries (its feeds are built from them)
    engine: str = ""
    queries: tuple[str, ...] = ()
    country: str = ""
    # manners on the real web
    user_agent: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    cookies: tuple[tuple[str, str], ...] = ()
    proxy: str = ""
    timezone: str = ""

    @property
    def kind(self) -> str:
        """``search`` for a news-search source (items link to many publishers), else ``site``."""
        return "search" if self.engine else "site"

    @property
    def is_search(self) -> bool:
        return bool(self.engine)

    @property
    def found_via_search(self) -> str:
        """The ``found_via`` value of articles this search source found."""
        return f"search:{self.name}"

    def zone(self) -> ZoneInfo | None:
        """The timezone of dates the source writes without one (None: UTC)."""
        return ZoneInfo(self.timezone) if self.timezone else None

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies)

    @property
    def start_urls(self) -> tuple[str, ...]:
        """Pages the spider starts from (feeds and sitemaps first: they name articles directly)."""
        pages = list(self.sections)
        if self.homepage and self.homepage not in pages:
            pages.insert(0, self.homepage)
        return (*self.feeds, *self.sitemaps, *pages)

    def compiled_patterns(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.article_patterns]

    def excludes(self, url: str) -> bool:
        """Whether one of ``exclude_patterns`` matches the URL's host + path (``/news/videos/``,
        ``/live/``, ``^pro\\.rp\\.pl/``): such a link is never fetched as an article."""
        if not self.exclude_patterns:
            return False
        parts = urlsplit(url)
        where = (parts.hostname or "") + (parts.path or "/")
        return any(re.search(p, where) for p in self.exclude_patterns)

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
        return ConfiguredSource(name=self.name, language=self.language, homepage=self.homepage, schedule=schedule,
                                kind=self.kind)


def search_feed_url(engine: str, query: str, lang: str, country: str, endpoint: str = "") -> str:
    """The RSS feed of one news search. Google News: ``hl``/``gl``/``ceid`` name language and
    country; Bing News: ``mkt=<lang>-<country>`` sets the market (``setlang`` would only change the
    interface)."""
    base = (endpoint or ENGINES[engine]).rstrip("/")
    q = quote_plus(query)
    if engine == "google_news":
        hl = f"{lang}-{country}" if lang == "en" else lang
        return f"{base}/rss/search?q={q}&hl={hl}&gl={country}&ceid={country}:{lang}"
    if engine == "bing_news":
        return f"{base}/news/search?q={q}&format=rss&mkt={lang}-{country}"
    raise ValueError(f"no query feed for engine {engine!r}")


def _string_map(raw: Any, where: str, fname: str) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not all(isinstance(k, str) and k.strip() for k in raw):
        raise SourcesError(f"{where}: {fname} must be a mapping of names to values, e.g. {{Accept-Language: pl}}")
    out = []
    for k, v in raw.items():
        if isinstance(v, (dict, list)) or v is None:
            raise SourcesError(f"{where}: {fname}.{k} must be a text value, got {v!r}")
        text = str(v)
        if "\n" in text or "\r" in text:
            raise SourcesError(f"{where}: {fname}.{k} must be one line")
        out.append((k.strip(), text))
    return tuple(out)


def _search_fields(raw: dict[str, Any], where: str, language: str) -> dict[str, Any]:
    """engine, queries, country and the built feed URLs of a search source (empty for a site)."""
    engine = raw.get("engine")
    if engine is None:
        stray = sorted(set(raw) & (_SEARCH_FIELDS - {"engine"}))
        if stray:
            raise SourcesError(f"{where}: {', '.join(stray)} belong to a search source: add "
                               f"engine: google_news, bing_news or google_alerts")
        return {}
    if engine not in ENGINES:
        raise SourcesError(f"{where}: engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    queries = raw.get("queries") or []
    if isinstance(queries, str):
        queries = [queries]
    if not isinstance(queries, list) or not all(isinstance(q, str) and q.strip() for q in queries):
        raise SourcesError(f"{where}: queries must be a list of search words, e.g. [Facebook banki dane]")
    queries = [" ".join(q.split()) for q in queries]
    if engine == "google_alerts" and queries:
        raise SourcesError(f"{where}: a Google Alerts source takes the feed URL Google gives you (feeds: [...]), "
                           f"not queries")
    if engine != "google_alerts" and not queries and not raw.get("feeds"):
        raise SourcesError(f"{where}: a {engine} source needs queries (or the feeds of searches)")
    if queries and not language:
        raise SourcesError(f"{where}: a search source needs its language (lang: pl or language: pl)")
    country = str(raw.get("country") or _DEFAULT_COUNTRY.get(language, language.upper())).upper()
    if not re.match(r"^[A-Z]{2}$", country):
        raise SourcesError(f"{where}: country must be a two-letter code like PL or US, got {raw.get('country')!r}")
    endpoint = raw.get("endpoint") or ""
    if endpoint:
        endpoint = _url_list([endpoint], where, "endpoint")[0]
    feeds = tuple(search_feed_url(engine, q, language, country, endpoint) for q in queries)
    return {"engine": engine, "queries": tuple(queries), "country": country, "search_feeds": feeds}


def _manners(raw: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {"headers": _string_map(raw.get("headers"), where, "headers"),
                           "cookies": _string_map(raw.get("cookies"), where, "cookies")}
    ua = raw.get("user_agent")
    if ua is not None and (not isinstance(ua, str) or not ua.strip() or "\n" in ua):
        raise SourcesError(f"{where}: user_agent must be one line of text")
    out["user_agent"] = (ua or "").strip()
    proxy = raw.get("proxy") or ""
    if proxy:
        parts = urlsplit(str(proxy))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourcesError(f"{where}: proxy must be an http(s) URL such as http://proxy.example.org:3128, "
                               f"got {proxy!r}")
    out["proxy"] = str(proxy)
    tz = raw.get("timezone") or ""
    if tz:
        try:
            ZoneInfo(str(tz))
        except (ZoneInfoNotFoundError, ValueError):
            raise SourcesError(f"{where}: timezone must be an IANA zone name such as Europe/Warsaw, got {tz!r}") \
                from None
    out["timezone"] = str(tz)
    return out


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
        if fname not in ("allowed_domains", "article_patterns", "exclude_patterns"):
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
    language = raw.get("language", raw.get("lang", defaults.get("language", "")))
    if raw.get("lang") and raw.get("language") and raw["lang"] != raw["language"]:
        raise SourcesError(f"{where}: lang {raw['lang']!r} and language {raw['language']!r} disagree (give one)")
    if language and (not isinstance(language, str) or not re.match(r"^[a-z]{2}$", language)):
        raise SourcesError(f"{where}: language must be an ISO 639-1 code like 'en' or 'pl', got {language!r}")
    search = _search_fields(raw, where, language or "")
    manners = _manners(raw, where)
    for fname in ("article_patterns", "exclude_patterns"):
        for pattern in lists[fname]:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise SourcesError(f"{where}: {fname}: bad regular expression {pattern!r}: {exc}") from None
    homepage = raw.get("homepage") or ""
    if homepage:
        homepage = _url_list([homepage], where, "homepage")[0]
    feeds = (*search.pop("search_feeds", ()), *lists["feeds"])
    if not (homepage or lists["sections"] or feeds or lists["sitemaps"]):
        raise SourcesError(f"{where}: needs at least one of homepage, sections, feeds, sitemaps")
    allowed = tuple(d.lower() for d in lists["allowed_domains"])
    if not allowed and not search:  # default: the hosts the source's own URLs live on (a search source
        # fetches its items on the publishers' own domains: no default limit)
        hosts = {urlsplit(u).hostname for u in (homepage, *lists["sections"], *feeds, *lists["sitemaps"]) if u}
        allowed = tuple(sorted(h.lower() for h in hosts if h))
    schedule = _schedule(raw.get("schedule", defaults.get("schedule", {"interval": "1h"})), where)
    limit = raw.get("time_limit", defaults.get("time_limit"))
    try:
        limit_s = None if limit is None else parse_duration(limit)
    except ValueError as exc:
        raise SourcesError(f"{where}: time_limit: {exc}") from None
    return Source(name=name, language=language or "", homepage=homepage, sections=lists["sections"],
                  feeds=feeds, sitemaps=lists["sitemaps"], allowed_domains=allowed,
                  article_patterns=lists["article_patterns"], exclude_patterns=lists["exclude_patterns"],
                  schedule=schedule, time_limit=limit_s,
                  description=str(raw.get("description") or ""), **search, **manners)


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
