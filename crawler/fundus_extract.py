"""Publisher-specific extraction with Fundus: body, title, authors and date of one page.

Fundus (flairNLP) ships a hand-written parser for each of about 180 news publishers. This
module picks the publisher by the page's host (``www.`` ignored; a subdomain such as
``politics.people.com.cn`` goes to the publisher of ``people.com.cn``; the publisher's former
domains included) and runs that publisher's parser, in the version valid at the crawl date,
over the decoded HTML. It fetches nothing. Publishers that Fundus marks deprecated (skipped by
its own crawler, mostly because their sites block it) are kept: their parsers still read the
pages we already have, and the caller falls back to trafilatura when one does not.

:func:`crawler.extract.extract_article` calls :func:`parse` when the ``fundus_extraction``
setting is on; it keeps trafilatura for every other page and whenever :func:`parse` returns
``None`` (no parser for the host, fundus not installed, the parser failed) or too little
text. This module imports only the standard library and (lazily) fundus, so the benchmark
can also run it in a virtual environment that holds fundus alone (``bench/fundus_worker.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FundusArticle:
    """What the publisher's parser found; empty fields are left to trafilatura."""

    publisher: str                  # Fundus' name of the publisher, e.g. "Der Spiegel"
    text: str                       # summary, then each section's headline and paragraphs
    title: str = ""
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None   # aware, UTC


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


@lru_cache(maxsize=1)
def _publishers() -> dict[str, Any] | None:
    """Host -> Fundus publisher, built once per process; ``None`` when fundus is not installed."""
    try:
        from fundus import PublisherCollection
    except ImportError as exc:
        log.warning("fundus_extraction is on but fundus cannot be imported (%s): trafilatura extracts every "
                    "page", exc)
        return None
    by_host: dict[str, Any] = {}
    for publisher in PublisherCollection:
        for domain in [publisher.domain, *publisher.deprecated_domains]:
            by_host.setdefault(_host(domain), publisher)
    return by_host


def available() -> bool:
    """True when fundus is installed and importable in this process."""
    return _publishers() is not None


def publisher_for(url: str) -> Any | None:
    """The Fundus publisher of ``url``'s host, or ``None`` when Fundus has no parser for it."""
    publishers = _publishers()
    if not publishers:
        return None
    labels = _host(url).split(".")
    for i in range(len(labels) - 1):  # the host itself, then each parent domain down to two labels
        publisher = publishers.get(".".join(labels[i:]))
        if publisher is not None:
            return publisher
    return None


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _authors(value: Any) -> tuple[str, ...]:
    seen: list[str] = []
    for name in value if isinstance(value, (list, tuple)) else []:
        name = str(name).strip()
        if name and name not in seen:
            seen.append(name)
    return tuple(seen)


def parse(html: str, url: str, crawled_at: datetime | None = None) -> FundusArticle | None:
    """Run the parser of ``url``'s publisher over ``html`` (already decoded).

    ``crawled_at`` chooses the parser version (publishers change their markup; Fundus keeps
    the old parsers with the date until which each was valid); default: the latest. Returns
    ``None`` when there is no parser for the host or the parser raised; a body the parser
    did not find comes back as empty text."""
    publisher = publisher_for(url)
    if publisher is None:
        return None
    try:
        # error_handling="suppress": an attribute that fails to parse gets its default (empty)
        extraction = publisher.parser(crawled_at).parse(html, error_handling="suppress")
    except Exception as exc:  # a parser meeting markup it was not written for: the caller falls back
        log.debug("fundus parser of %s failed on %s: %s: %s", publisher.name, url, type(exc).__name__, exc)
        return None
    body = extraction.get("body")
    text = str(body).strip() if body else ""
    title = extraction.get("title")
    return FundusArticle(
        publisher=publisher.name,
        text=text,
        title=title.strip() if isinstance(title, str) else "",
        authors=_authors(extraction.get("authors")),
        published_at=_utc(extraction.get("publishing_date")),
    )
