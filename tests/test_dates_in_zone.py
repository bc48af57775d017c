"""Dates a site writes in its own zone (a source's ``timezone``), read into UTC."""

from zoneinfo import ZoneInfo

import pytest

from dealwatch.dates import parse_in_zone
from crawler.middlewares import RetryAfterMiddleware
from crawler.spiders.news import feed_body

WARSAW = ZoneInfo("Europe/Warsaw")


@pytest.mark.parametrize("written, utc", [
    ("2026-07-16 20:53:12", "2026-07-16T18:53:12+00:00"),               # no zone: Warsaw summer time
    ("2026-01-16 20:53:12", "2026-01-16T19:53:12+00:00"),               # no zone: Warsaw winter time
    ("Thu, 16 Jul 2026 20:53:12 +0100", "2026-07-16T18:53:12+00:00"),   # +0100 stamped all year: a local time
    ("Fri, 16 Jan 2026 20:53:12 +0100", "2026-01-16T19:53:12+00:00"),   # +0100 in winter is right as written
    ("2026-07-16T20:53:12+02:00", "2026-07-16T18:53:12+00:00"),         # the right offset is kept
    ("2026-07-16T20:53:12Z", "2026-07-16T20:53:12+00:00"),              # UTC is UTC
])
def test_a_warsaw_sites_dates(written, utc):
    assert parse_in_zone(written, WARSAW).isoformat() == utc


def test_without_a_zone_it_is_utc_and_nonsense_is_none():
    assert parse_in_zone("2026-07-16 20:53:12", None).isoformat() == "2026-07-16T20:53:12+00:00"
    assert parse_in_zone("yesterday", WARSAW) is None


def test_retry_after_in_seconds_or_as_an_http_date():
    from datetime import timedelta
    from email.utils import format_datetime

    from dealwatch.dates import utcnow
    assert RetryAfterMiddleware.parse_retry_after("3") == 3.0
    later = format_datetime(utcnow() + timedelta(seconds=90), usegmt=True)
    assert 85 <= RetryAfterMiddleware.parse_retry_after(later) <= 91
    assert RetryAfterMiddleware.parse_retry_after("soon") is None


def test_feeds_as_published_lose_their_bom_and_blank_lines_before_the_xml_declaration():
    assert feed_body(b"\xef\xbb\xbf\r\n  <?xml version='1.0'?><rss/>") == b"<?xml version='1.0'?><rss/>"
    assert feed_body(b"\n\n\xef\xbb\xbf<rss/>") == b"<rss/>"
    assert feed_body(b"<rss/>") == b"<rss/>"
