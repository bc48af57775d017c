"""CC-NEWS by month: the listing of a month's WARC files, turned into inputs read as streams.

Common Crawl publishes CC-NEWS as ``<base>/crawl-data/CC-NEWS/YYYY/MM/CC-NEWS-<time>-<n>.warc.gz``
(about 1 GB each) with one listing per month, ``warc.paths.gz`` (gzip text, one path per line,
relative to the base). The base URL is the setting ``cc_news_base_url``, so a mirror (or a test's
local server laid out the same way) can stand in. A file's checkpoint key is its path, whatever the
mirror it was read from.
"""

from __future__ import annotations

import gzip
import re
from datetime import date

import httpx

from crawler.backfill.inputs import InputError, WarcInput

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
FIRST_MONTH = date(2016, 8, 1)        # CC-NEWS starts in August 2016


def _month(text: str) -> date:
    m = _MONTH_RE.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise InputError(f"{text!r} is not a month: write YYYY-MM, e.g. 2018-08")
    return date(int(m.group(1)), int(m.group(2)), 1)


def months(spec: str) -> list[date]:
    """``2018-08`` or ``2018-08..2018-10`` (both ends included) -> the first day of each month."""
    first, _, last = spec.partition("..")
    start = _month(first)
    end = _month(last) if last else start
    if end < start:
        raise InputError(f"{spec!r}: the last month comes before the first")
    if start < FIRST_MONTH:
        raise InputError(f"{spec!r}: CC-NEWS starts in {FIRST_MONTH:%Y-%m}")
    out = []
    d = start
    while d <= end:
        out.append(d)
        d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return out


def listing_url(base_url: str, month: date) -> str:
    return f"{base_url.rstrip('/')}/crawl-data/CC-NEWS/{month:%Y/%m}/warc.paths.gz"


def month_inputs(base_url: str, month: date, timeout: float = 60.0) -> list[WarcInput]:
    """The WARC files of one month, in the listing's order (oldest first)."""
    url = listing_url(base_url, month)
    try:
        resp = httpx.get(url, timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise InputError(f"cannot read the CC-NEWS listing {url}: {type(exc).__name__}: {exc}") from exc
    if resp.status_code != 200:
        raise InputError(f"cannot read the CC-NEWS listing {url}: HTTP {resp.status_code}")
    try:
        text = gzip.decompress(resp.content).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"the CC-NEWS listing {url} is not gzip text: {exc}") from exc
    base = base_url.rstrip("/")
    return [WarcInput(key=f"cc-news:{path}", location=f"{base}/{path}")
            for path in (line.strip() for line in text.splitlines()) if path]


def inputs(base_url: str, specs: list[str]) -> list[WarcInput]:
    """Every file of every month the specs name (each month once)."""
    seen: set[date] = set()
    out: list[WarcInput] = []
    for spec in specs:
        for month in months(spec):
            if month not in seen:
                seen.add(month)
                out.extend(month_inputs(base_url, month))
    return out
