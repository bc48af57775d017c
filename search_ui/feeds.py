"""Atom feeds for saved searches: the newest matches of any query, for readers and other systems."""

from __future__ import annotations

import re
from urllib.parse import quote
from xml.sax.saxutils import escape as _xml_escape

from dealwatch.dates import parse_datetime, to_iso, utcnow
from indexer.query import SearchResult, strip_highlight
from search_ui.render import safe_url

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def escape(value: str, entities: dict[str, str] | None = None) -> str:
    """XML-escape text, dropping characters XML 1.0 does not allow (crawled text has them)."""
    return _xml_escape(_NOT_XML.sub("", value or ""), entities or {})


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def atom(result: SearchResult, *, base: str, self_url: str, html_url: str) -> str:
    req = result.params
    title = f"DealWatch: {req.q}" if req.q else "DealWatch: newest articles"
    # a date that cannot be read (stored by another tool, out of the calendar) is left out, never a crash
    dates = {h.id: to_iso(parse_datetime(h.published_at)) for h in result.hits}
    updated = max((d for d in dates.values() if d), default=None) or to_iso(utcnow())
    parts = ['<?xml version="1.0" encoding="utf-8"?>',
             '<feed xmlns="http://www.w3.org/2005/Atom">',
             f"<title>{escape(title)}</title>",
             f"<id>{escape(self_url)}</id>",
             f'<link rel="self" type="application/atom+xml" href="{_attr(self_url)}"/>',
             f'<link rel="alternate" type="text/html" href="{_attr(base + html_url)}"/>',
             f"<updated>{escape(updated)}</updated>",
             "<generator>DealWatch</generator>"]
    for h in result.hits:
        when = dates[h.id] or updated
        summary = " ".join(strip_highlight(h.snippet_hl).split())
        authors = h.authors[:5] or [h.source]
        archived = base + "/articles/" + quote(h.id, safe="")
        original = safe_url(h.url)       # a javascript: or data: address is no link to follow
        parts += ["<entry>",
                  f"<title>{escape(h.title)}</title>",
                  f"<id>urn:dealwatch:article:{escape(quote(h.id, safe=''))}</id>",
                  f'<link rel="alternate" href="{_attr(original if original != "#" else archived)}"/>',
                  f'<link rel="related" href="{_attr(archived)}"/>',
                  f"<updated>{escape(when)}</updated>",
                  f"<published>{escape(when)}</published>"]
        parts += [f"<author><name>{escape(a)}</name></author>" for a in authors]
        parts += [f'<category term="{_attr(e["id"] or "")}" label="{_attr(e["name"] or "")}"/>' for e in h.entities]
        parts += [f'<summary type="text">{escape(summary)}</summary>', "</entry>"]
    parts.append("</feed>")
    return "\n".join(parts)
