"""Extraction: one raw HTML page -> an :class:`~indexer.schema.Article` (or a reason to drop it).

The ONE extraction function of the project: the crawler's worker processes, ``dealwatch
reextract`` and the benchmarks all call :func:`extract_article`. It is plain Python over
bytes (no Scrapy, no Elasticsearch), so it runs in a process pool.

trafilatura gives the main text and the metadata (title, authors, date, site name,
description, canonical URL from ``rel=canonical`` / ``og:url``); the canonical URL is then
normalised by :mod:`crawler.canonical`. The language is the detected language of the
text when the detector is sure, else the page's declared ``lang``, else the source's.

With the ``fundus_extraction`` setting on, a page whose publisher Fundus has a parser for
(:mod:`crawler.fundus_extract`) takes its text, title, authors and date from that parser,
and only the rest of the metadata from trafilatura (``extract_metadata``, no second text
extraction); when Fundus fails or finds less than ``FUNDUS_MIN_TEXT_CHARS`` of text, the
page goes the trafilatura way like every other page.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

import htmldate
import trafilatura
from trafilatura.settings import use_config

from crawler import walls
from crawler.canonical import canonicalize, domain_of
from dealwatch.dates import parse_datetime, parse_in_zone, utcnow
from indexer.schema import Article

log = logging.getLogger(__name__)

DEFAULT_MIN_TEXT_CHARS = 200
FUNDUS_MIN_TEXT_CHARS = 200  # less text from Fundus than this (or than min_text_chars): trafilatura instead
_MODES = {
    "balanced": {},
    "precision": {"favor_precision": True},
    "recall": {"favor_recall": True},
    "fast": {"fast": True},
}
_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HTML_LANG_RE = re.compile(r"""<html[^>]*\slang\s*=\s*["']?([A-Za-z]{2,3})""", re.I)
# The date: htmldate's fast search first (metadata, JSON-LD, URL, date elements, timestamps);
# its extensive search (free text, and dateparser for unusual formats: seconds to load its
# locales in each worker, and most of the date search's CPU) only for a page where that found
# nothing (:func:`_extensive_date`). BENCHMARKS.md §5 compares the dates with a single extensive search.
_DATE_PARAMS = {"extensive_search": False, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}

_config = use_config()
_config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")  # signal-based timeouts do not work in worker threads


@dataclass(frozen=True)
class Dropped:
    """A fetched page that yields no article, with the reason counted in the run report."""

    reason: str          # no_text | not_html | too_large | parse | consent_wall
    url: str
    message: str = ""


def decode_html(html: bytes | str, encoding: str | None = None) -> str:
    """Decode page bytes: valid UTF-8 first (pages that declare Latin-1 but are UTF-8 are
    common; Latin-1 text with accents is practically never valid UTF-8), else the
    HTTP-declared charset, else the page's ``<meta charset>``, else Windows-1252."""
    if isinstance(html, str):
        return html
    if html.startswith(b"\xef\xbb\xbf"):
        return html[3:].decode("utf-8", errors="replace")
    candidates = ["utf-8"]
    if encoding:
        candidates.append(encoding)
    m = _CHARSET_RE.search(html[:4096])
    if m:
        candidates.append(m.group(1).decode("ascii", "ignore"))
    for enc in candidates:
        try:
            return html.decode(enc)
        except (LookupError, UnicodeDecodeError):
            continue
    return html.decode("cp1252", errors="replace")


def looks_binary(html: bytes | str) -> bool:
    head = html[:2048]
    if isinstance(head, str):
        return "\x00" in head
    return b"\x00" in head or head.startswith((b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04"))


def _authors(value: str | None) -> list[str]:
    if not value:
        return []
    parts = re.split(r"\s*(?:;|\||,|\band\b|\bi\b)\s*", value)
    seen: list[str] = []
    for p in parts:
        p = p.strip()
        if p and p not in seen:
            seen.append(p)
    return seen


def detect_language(text: str, declared: str = "", default: str = "") -> str:
    """Detected language of ``text`` if the detector is confident, else the page's, else the default."""
    if len(text) >= 200:
        try:
            import py3langid
            lang, prob = py3langid.classify(text[:5000])
            if prob >= 0.9 or not (declared or default):
                return lang
        except Exception as exc:  # the detector is optional: fall back, but say so
            log.debug("language detection failed: %s", exc)
    return (declared or default or "").lower()[:2]


def _visible_text(html: str) -> str:
    """The text a reader sees on a page (scripts and styles left out), paragraph per line."""
    try:
        import lxml.html
        root = lxml.html.fromstring(html)
    except (ValueError, TypeError, Exception):  # noqa: BLE001 - unparsable markup has no visible text
        return ""
    for bad in root.xpath("//script|//style|//noscript|//template"):
        bad.getparent().remove(bad) if bad.getparent() is not None else None
    parts = [" ".join(t.split()) for t in root.xpath("//body//text()")]
    return "\n".join(p for p in parts if p)


def _page_date(value, timezone: str):
    if not timezone:
        return parse_datetime(value)
    from zoneinfo import ZoneInfo
    return parse_in_zone(value, ZoneInfo(timezone))


def _same_site(a: str, b: str) -> bool:
    strip = lambda h: h[4:] if h.startswith("www.") else h  # noqa: E731
    return strip(a) == strip(b)


def _fundus_setting() -> bool:
    from dealwatch.settings import get_settings
    return get_settings().fundus_extraction


def fundus_text_usable(text: str, min_text_chars: int = DEFAULT_MIN_TEXT_CHARS) -> bool:
    """Whether Fundus' text is kept (else the page falls back to trafilatura)."""
    return len(text) >= max(min_text_chars, FUNDUS_MIN_TEXT_CHARS)


def _extensive_date(text_html: str, url: str | None) -> str | None:
    """htmldate's extensive search, for a page where the fast search found no date."""
    try:
        return htmldate.find_date(text_html, url=url, **{**_DATE_PARAMS, "extensive_search": True})
    except Exception as exc:  # noqa: BLE001 - htmldate/lxml on hostile markup: the page just has no date
        log.debug("extensive date search failed for %s: %s", url, exc)
        return None


def extract_article(html: bytes | str, url: str, source: str, default_lang: str = "", *,
                    encoding: str | None = None, min_text_chars: int = DEFAULT_MIN_TEXT_CHARS,
                    mode: str = "balanced", crawled_at: datetime | None = None,
                    fundus: bool | None = None, timezone: str = "") -> Article | Dropped:
    """Extract one page. ``source`` is the source name; ``default_lang`` its language;
    ``timezone`` the zone of dates the page writes without one (the source's ``timezone``).

    A page whose text is a cookie/consent notice or an interstitial (:func:`crawler.walls.consent_wall`)
    is dropped as ``consent_wall``, never indexed as an article.

    ``fundus``: try the publisher's Fundus parser first (``None``: the process-wide
    ``fundus_extraction`` setting, which the crawl's worker processes receive)."""
    if not html:
        return Dropped("no_text", url, "empty page")
    if looks_binary(html):
        return Dropped("not_html", url, "binary content")
    text_html = decode_html(html, encoding)
    found = None
    use_fundus = _fundus_setting() if fundus is None else fundus
    if use_fundus:
        from crawler import fundus_extract
        found = fundus_extract.parse(text_html, url, crawled_at)
        if found is not None and not fundus_text_usable(found.text, min_text_chars):
            found = None
    try:
        if found is not None:  # the text is Fundus'; trafilatura adds the metadata only
            doc = trafilatura.extract_metadata(text_html, default_url=url, date_config=_DATE_PARAMS)
        else:
            doc = trafilatura.bare_extraction(text_html, url=url, with_metadata=True, include_comments=False,
                                              date_extraction_params=_DATE_PARAMS, config=_config,
                                              **_MODES.get(mode, {}))
    except Exception as exc:  # trafilatura/lxml on hostile markup: count as a parse failure, go on
        return Dropped("parse", url, f"{type(exc).__name__}: {exc}")
    if found is not None:
        text = found.text
    else:
        text = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
        if doc is None or not text or len(text) < min_text_chars:  # nothing kept, or too little
            wall = walls.consent_wall(text + "\n" + _visible_text(text_html), min_text_chars)
            if wall:
                return Dropped("consent_wall", url, wall)
            return Dropped("no_text", url, f"{len(text)} characters of article text (minimum {min_text_chars})")
    wall = walls.consent_wall(text, min_text_chars)
    if wall:
        return Dropped("consent_wall", url, wall)
    if not doc.date and (found is None or found.published_at is None):
        doc.date = _extensive_date(text_html, getattr(doc, "url", None) or url)

    fetched = canonicalize(url)
    canonical = fetched
    declared_url = getattr(doc, "url", None)
    if declared_url:
        candidate = canonicalize(declared_url, base=url)
        if candidate.startswith(("http://", "https://")) and _same_site(domain_of(candidate), domain_of(fetched)):
            canonical = candidate
    m = _HTML_LANG_RE.search(text_html[:5000])
    declared_lang = m.group(1).lower() if m else ""
    title = (found.title if found is not None else "") or (doc.title or "").strip()
    if not title:
        title = text.split("\n", 1)[0][:200]
    return Article(
        url=url,
        canonical_url=canonical,
        source=source,
        title=title,
        text=text,
        domain=domain_of(canonical),
        site_name=(doc.sitename or "").strip(),
        description=(doc.description or "").strip(),
        authors=list(found.authors) if found is not None and found.authors else _authors(doc.author),
        published_at=(found.published_at if found is not None else None) or _page_date(doc.date, timezone),
        crawled_at=crawled_at or utcnow(),
        lang=detect_language(text, declared_lang, default_lang),
    )
