"""Saved searches: a name, the search parameters, a schedule and delivery channels, kept in the cluster.

A :class:`SavedSearch` holds the search exactly as the search page takes it (its URL parameters,
read back with :meth:`indexer.query.SearchParams.from_url`), a :class:`Schedule` (after each crawl
of its sources, hourly, daily or weekly at a local time), the channels (e-mail recipients; a
webhook URL with its format and an optional HMAC secret) and a paused flag. Every UI, CLI and
scheduler of one archive reads the same ones from ``<prefix>saved-searches`` (strict mapping),
through :class:`indexer.archive.Archive`.

Input is checked here, once, for every face: :func:`build` raises :class:`InvalidSavedSearch`
(a :class:`~indexer.errors.BadQuery`, so the UI answers 400 and the CLI exits 2) with a sentence
that says what to write instead.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.utils import formataddr, getaddresses
from typing import Any, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from elasticsearch import Elasticsearch, NotFoundError

from dealwatch.dates import parse_datetime, to_iso, utcnow
from dealwatch.settings import Settings
from indexer.errors import BadQuery
from indexer.query import DEFAULT_SIZE, SearchParams

WEBHOOK_FORMATS = ("json", "slack", "mattermost", "teams")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_NAME = 120
MAX_RECIPIENTS = 50

MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "keyword"},
        "name": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 256}}},
        "query": {"type": "keyword", "index": False},      # the search page's URL parameters
        "sources": {"type": "keyword"},                    # the query's source filter (after-crawl alerts)
        "schedule": {"type": "keyword"},                   # Schedule.text
        "emails": {"type": "keyword"},
        "webhook_url": {"type": "keyword", "index": False},
        "webhook_format": {"type": "keyword"},
        "webhook_secret": {"type": "keyword", "index": False},
        "paused": {"type": "boolean"},
        "since": {"type": "date"},                         # matches crawled or changed from then on are new
        "created_at": {"type": "date"},
        "updated_at": {"type": "date"},
    },
}


class InvalidSavedSearch(BadQuery):
    """A saved search that cannot work; the message says what to write instead."""


# --- the schedule -------------------------------------------------------------------------

@dataclass(frozen=True)
class Schedule:
    """When an alert runs: ``after-crawl`` | ``hourly`` | ``daily HH:MM [TZ]`` | ``weekly DAY HH:MM [TZ]``."""

    kind: str = "daily"            # after-crawl | hourly | daily | weekly
    hour: int = 8
    minute: int = 0
    day: str = "mon"               # weekly only
    tz: str = "UTC"

    @classmethod
    def parse(cls, text: str) -> "Schedule":
        words = (text or "").strip().split()
        if not words:
            raise InvalidSavedSearch("Give a schedule: after-crawl, hourly, daily 08:00 Europe/Warsaw or "
                                     "weekly mon 08:00 Europe/Warsaw.")
        kind = words[0].lower().replace("_", "-")
        rest = words[1:]
        if kind in ("after-crawl", "hourly"):
            if rest:
                raise InvalidSavedSearch(f"The schedule {kind!r} takes nothing after it (got {' '.join(rest)!r}).")
            return cls(kind=kind, hour=0, minute=0, day="mon")
        if kind not in ("daily", "weekly"):
            raise InvalidSavedSearch(f"Unknown schedule {words[0]!r}: use after-crawl, hourly, daily HH:MM [timezone] "
                                     "or weekly DAY HH:MM [timezone].")
        day = "mon"
        if kind == "weekly":
            if not rest or rest[0].lower()[:3] not in DAYS:
                raise InvalidSavedSearch("A weekly schedule names a day first: weekly mon 08:00 (days: "
                                         f"{', '.join(DAYS)}).")
            day, rest = rest[0].lower()[:3], rest[1:]
        if not rest:
            raise InvalidSavedSearch(f"A {kind} schedule needs a time, e.g. {kind}{' mon' if kind == 'weekly' else ''} 08:00.")
        match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", rest[0])
        if not match:
            raise InvalidSavedSearch(f"{rest[0]!r} is not a time of day: write HH:MM from 00:00 to 23:59.")
        tz = rest[1] if len(rest) > 1 else "UTC"
        if len(rest) > 2:
            raise InvalidSavedSearch(f"Unexpected {' '.join(rest[2:])!r} after the timezone.")
        _zone(tz)
        return cls(kind=kind, hour=int(match[1]), minute=int(match[2]), day=day, tz=tz)

    @property
    def text(self) -> str:
        """The canonical form, read back by :meth:`parse`."""
        if self.kind in ("after-crawl", "hourly"):
            return self.kind
        at = f"{self.hour:02d}:{self.minute:02d}"
        return f"daily {at} {self.tz}" if self.kind == "daily" else f"weekly {self.day} {at} {self.tz}"

    @property
    def timed(self) -> bool:
        return self.kind != "after-crawl"

    def describe(self) -> str:
        if self.kind == "after-crawl":
            return "after each crawl of its sources"
        if self.kind == "hourly":
            return "every hour, on the hour"
        at = f"{self.hour:02d}:{self.minute:02d} ({self.tz})"
        return f"every day at {at}" if self.kind == "daily" else f"every {self.day} at {at}"

    def next_after(self, when: datetime) -> datetime | None:
        """The first fire time after ``when`` (UTC); None for after-crawl schedules."""
        if self.kind == "after-crawl":
            return None
        if self.kind == "hourly":
            return (when + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        local = when.astimezone(_zone(self.tz))
        for days in range(0, 8):
            day = (local + timedelta(days=days)).date()
            if self.kind == "weekly" and DAYS[day.weekday()] != self.day:
                continue
            candidate = datetime(day.year, day.month, day.day, self.hour, self.minute, tzinfo=_zone(self.tz))
            if candidate > local:
                return candidate.astimezone(when.tzinfo)
        return None  # pragma: no cover - a week always has the day


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSavedSearch(f"Unknown timezone {name!r}: use a name such as UTC, Europe/Warsaw or "
                                 "America/New_York.") from None


# --- the saved search --------------------------------------------------------------------

@dataclass(frozen=True)
class SavedSearch:
    """One saved search (an alert when it has a channel)."""

    id: str
    name: str
    query: str                                 # URL parameters of the search page, e.g. "q=facebook&source=x"
    schedule: Schedule = field(default_factory=Schedule)
    emails: tuple[str, ...] = ()
    webhook_url: str = ""
    webhook_format: str = "json"
    webhook_secret: str = ""
    paused: bool = False
    since: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def params(self) -> SearchParams:
        return SearchParams.from_url(parse_qsl(self.query, keep_blank_values=False))

    @property
    def sources(self) -> tuple[str, ...]:
        return self.params.sources

    @property
    def has_channel(self) -> bool:
        return bool(self.emails or self.webhook_url)

    def to_document(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "query": self.query, "sources": list(self.sources),
                "schedule": self.schedule.text, "emails": list(self.emails), "webhook_url": self.webhook_url,
                "webhook_format": self.webhook_format, "webhook_secret": self.webhook_secret,
                "paused": self.paused, "since": to_iso(self.since), "created_at": to_iso(self.created_at),
                "updated_at": to_iso(self.updated_at)}

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> "SavedSearch":
        return cls(id=doc["id"], name=doc["name"], query=doc.get("query", ""),
                   schedule=Schedule.parse(doc.get("schedule") or "daily 08:00"),
                   emails=tuple(doc.get("emails") or ()), webhook_url=doc.get("webhook_url") or "",
                   webhook_format=doc.get("webhook_format") or "json",
                   webhook_secret=doc.get("webhook_secret") or "", paused=bool(doc.get("paused")),
                   since=parse_datetime(doc.get("since")), created_at=parse_datetime(doc.get("created_at")),
                   updated_at=parse_datetime(doc.get("updated_at")))

    def public(self) -> dict[str, Any]:
        """As the API shows it: the webhook secret is never shown, only whether one is set."""
        return {"id": self.id, "name": self.name, "query": self.query, "schedule": self.schedule.text,
                "schedule_text": self.schedule.describe(), "emails": list(self.emails),
                "webhook_url": self.webhook_url, "webhook_format": self.webhook_format,
                "webhook_signed": bool(self.webhook_secret), "paused": self.paused,
                "since": to_iso(self.since), "created_at": to_iso(self.created_at),
                "updated_at": to_iso(self.updated_at)}


def normalized_query(query: str | SearchParams | Iterable[tuple[str, str]]) -> str:
    """The search as URL parameters, without paging (a digest has no pages); BadQuery when unusable."""
    if isinstance(query, SearchParams):
        params = query
    else:
        if isinstance(query, str):
            text = query.strip()
            if text.startswith(("http://", "https://", "/")) or "?" in text:
                text = urlsplit(text).query
            items = parse_qsl(text.lstrip("?"), keep_blank_values=False)
        else:
            items = list(query)
        try:
            params = SearchParams.from_url(items)
        except BadQuery as exc:
            raise InvalidSavedSearch(f"The search cannot be saved: {exc}") from None
    return urlencode(params.to_url(page=1, size=DEFAULT_SIZE))


def _recipients(value: str | Iterable[str]) -> tuple[str, ...]:
    raw = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for name, addr in getaddresses([v for v in raw if v and v.strip()]):
        if not re.fullmatch(r"[^@\s<>,;]+@[^@\s<>,;]+", addr or ""):
            shown = formataddr((name, addr)) if name else (addr or "(empty)")
            raise InvalidSavedSearch(f"{shown!r} is not an e-mail address: write name@example.org or "
                                     "\"Jan Kowalski <jan@example.org>\", several separated by commas.")
        out.append(display_address(name, addr))
    out = list(dict.fromkeys(out))
    if len(out) > MAX_RECIPIENTS:
        raise InvalidSavedSearch(f"{len(out)} recipients: at most {MAX_RECIPIENTS} per saved search.")
    return tuple(out)


def display_address(name: str, addr: str) -> str:
    """``Name <addr>`` as a person writes it (non-ASCII kept: RFC 2047 is for the wire, done when sending)."""
    if not name:
        return addr
    try:
        return str(Address(display_name=name, addr_spec=addr))
    except (ValueError, IndexError):
        raise InvalidSavedSearch(f"{addr!r} is not an e-mail address: write name@example.org.") from None


def _webhook(url: str) -> str:
    url = (url or "").strip()
    if not url:
        return ""
    parts = urlsplit(url)
    try:
        parts.port
    except ValueError:
        raise InvalidSavedSearch(f"The webhook URL {url!r} has an invalid port.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidSavedSearch(f"The webhook URL {url!r} is not an http(s) URL such as "
                                 "https://hooks.example.org/services/T000/B000/XXXX.")
    return url


def new_id() -> str:
    return secrets.token_hex(6)


def build(*, name: str, query: str | SearchParams, schedule: str | Schedule = "daily 08:00",
          emails: str | Iterable[str] = (), webhook_url: str = "", webhook_format: str = "json",
          webhook_secret: str = "", paused: bool = False, base: SavedSearch | None = None) -> SavedSearch:
    """A checked saved search (a new one, or ``base`` edited); InvalidSavedSearch says what is wrong."""
    name = " ".join((name or "").split())
    if not name:
        raise InvalidSavedSearch("Give the saved search a name, e.g. \"Facebook and banks\".")
    if len(name) > MAX_NAME:
        raise InvalidSavedSearch(f"The name is {len(name)} characters long; the limit is {MAX_NAME}.")
    fmt = (webhook_format or "json").strip().lower()
    if fmt not in WEBHOOK_FORMATS:
        raise InvalidSavedSearch(f"Unknown webhook format {webhook_format!r}: use one of {', '.join(WEBHOOK_FORMATS)}.")
    url = _webhook(webhook_url)
    if webhook_secret and not url:
        raise InvalidSavedSearch("A webhook secret needs a webhook URL to sign for.")
    sched = schedule if isinstance(schedule, Schedule) else Schedule.parse(schedule)
    now = utcnow()
    q = normalized_query(query)
    fields = dict(name=name, query=q, schedule=sched, emails=_recipients(emails), webhook_url=url,
                  webhook_format=fmt, webhook_secret=(webhook_secret or "").strip(), paused=bool(paused),
                  updated_at=now)
    if base is None:
        return SavedSearch(id=new_id(), since=now, created_at=now, **fields)
    # a changed search counts new matches from the change on (not everything since the alert was made)
    since = now if q != base.query else base.since
    return replace(base, since=since, **fields)


# --- the store ---------------------------------------------------------------------------

def ensure_index(es: Elasticsearch, settings: Settings) -> None:
    if not es.indices.exists(index=settings.saved_searches_index):
        es.options(ignore_status=400).indices.create(
            index=settings.saved_searches_index, settings={"number_of_shards": 1, "number_of_replicas": settings.index_replicas},
            mappings=MAPPING)


def save(es: Elasticsearch, settings: Settings, search: SavedSearch) -> SavedSearch:
    ensure_index(es, settings)
    es.index(index=settings.saved_searches_index, id=search.id, document=search.to_document(), refresh="wait_for")
    return search


def get(es: Elasticsearch, settings: Settings, search_id: str) -> SavedSearch | None:
    try:
        doc = es.get(index=settings.saved_searches_index, id=search_id)["_source"]
    except NotFoundError:
        return None
    return SavedSearch.from_document(doc)


def all_searches(es: Elasticsearch, settings: Settings) -> list[SavedSearch]:
    """Every saved search, by name."""
    try:
        resp = es.search(index=settings.saved_searches_index, size=10_000, query={"match_all": {}},
                         sort=[{"name.raw": "asc"}, {"id": "asc"}])
    except NotFoundError:
        return []
    return [SavedSearch.from_document(h["_source"]) for h in resp["hits"]["hits"]]


def delete(es: Elasticsearch, settings: Settings, search_id: str) -> bool:
    try:
        es.delete(index=settings.saved_searches_index, id=search_id, refresh="wait_for")
    except NotFoundError:
        return False
    return True
