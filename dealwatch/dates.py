"""Time, one way everywhere: timezone-aware UTC inside, ISO 8601 text in stored records.

Every stage reads and writes dates through these helpers: the crawler (feed and sitemap dates,
the known-URL store, run reports), the indexer (documents, run history, Elasticsearch's answers)
and the faces (URL parameters, shown dates). A date without a zone is taken as UTC unless the
caller names the zone it was written in.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timezone, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any

UTC = timezone.utc

# the calendar Python (and therefore Elasticsearch answers we can turn into datetimes) can hold
MIN_YEAR, MAX_YEAR = 1, 9999


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(dt: datetime, assume: tzinfo = UTC) -> datetime:
    """``dt`` in UTC; a naive ``dt`` is read in ``assume`` first."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=assume)
    return dt.astimezone(UTC)


def to_iso(dt: datetime | None, timespec: str = "auto") -> str | None:
    """ISO 8601 in UTC (``+00:00``), or None."""
    if dt is None:
        return None
    return as_utc(dt).isoformat(timespec=timespec)


def parse_datetime(value: Any, assume: tzinfo = UTC) -> datetime | None:
    """A point in time from what feeds, sitemaps, pages and Elasticsearch write, in UTC; None when unreadable.

    Accepted: a ``datetime``; a ``date`` (midnight); epoch milliseconds (Elasticsearch
    aggregations); ISO 8601 with or without zone (``Z`` too); RFC 2822 (``Tue, 01 Dec 2026
    10:00:00 GMT``); a ``time.struct_time`` (feedparser, always UTC).
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return as_utc(value, assume)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=assume).astimezone(UTC)
    if isinstance(value, time.struct_time):
        return datetime(*value[:6], tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip()
    if not text:
        return None
    try:
        return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")), assume)
    except ValueError:
        pass
    try:
        return as_utc(parsedate_to_datetime(text), assume)
    except (TypeError, ValueError, IndexError):
        return None


def parse_in_zone(value: Any, zone: tzinfo | None) -> datetime | None:
    """A date a site wrote in ``zone`` (e.g. Europe/Warsaw), in UTC; None when unreadable.

    Without an offset it is read in ``zone``. With the zone's *standard-time* offset on a day the
    zone keeps daylight time (a site that stamps ``+0100`` all year on Warsaw times), the wall
    time is read in ``zone`` too. Any other offset is taken as written. ``zone`` None: UTC.
    """
    if zone is None:
        return parse_datetime(value)
    if isinstance(value, (datetime, date, time.struct_time, int, float)) or value is None:
        return parse_datetime(value, zone)
    text = str(value).strip()
    if not text:
        return None
    written: datetime | None = None
    try:
        written = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            written = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if written.tzinfo is None:
        return written.replace(tzinfo=zone).astimezone(UTC)
    local = written.replace(tzinfo=zone)
    dst = local.dst()
    if dst and written.utcoffset() == local.utcoffset() - dst:
        return local.astimezone(UTC)
    return written.astimezone(UTC)


def stored_date_text(value: Any) -> str | None:
    """A date as stored in a document, as text: ISO strings as they are, epoch milliseconds (how other tools
    may write a date) as ISO 8601 in UTC, and what no calendar here can hold (year 10000) as it was written.
    Never raises: a stored value must not break a page that shows it."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        parsed = parse_datetime(value)
        return to_iso(parsed) if parsed is not None else str(value)
    return str(value)


def parse_day(value: str) -> date:
    """A calendar day from ``YYYY-MM-DD`` (a longer ISO string is cut to its date); ValueError otherwise."""
    return date.fromisoformat(value.strip()[:10])
