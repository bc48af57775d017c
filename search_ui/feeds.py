"""Atom feeds for saved searches: the newest matches of any query, for readers and other systems."""

from __future__ import annotations

from datetime import datetime, timezone
import re
from xml.sax.saxutils import escape as _xml_escape

from indexer.query import SearchResult, strip_highlight

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def escape(value: str, entities: dict[str, str] | None = None) -> str:
    """XML-escape text, dropping characters XML 1.0 does not allow (crawled text has them)."""
    return _xml_escape(_NOT_XML.sub("", value or ""), entities or {})


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def atom(result: SearchResult, *, base: str, self_url: str, html_url: str) -> str:
    req = result.params
    title = f"DealWatch: {req.q}" if req.q else "DealWatch: newest articles"
    updated = max((h.published_at or "" for h in result.hits), default="") or datetime.now(timezone.utc).isoformat()
    parts = ['<?xml version="1.0" encoding="utf-8"?>',
             '<feed xmlns="http://www.w3.org/2005/Atom">',
             f"<title>{escape(title)}</title>",
             f"<id>{escape(self_url)}</id>",
             f'<link rel="self" type="application/atom+xml" href="{_attr(self_url)}"/>',
             f'<link rel="alternate" type="text/html" href="{_attr(base + html_url)}"/>',
             f"<updated>{escape(updated)}</updated>",
             "<generator>DealWatch</generator>"]
    for h in result.hits:
        when = h.published_at or updated
        summary = " ".join(strip_highlight(h.snippet_hl).split())
        authors = h.authors[:5] or [h.source]
        parts += ["<entry>",
                  f"<title>{escape(h.title)}</title>",
                  f"<id>urn:dealwatch:article:{escape(h.id)}</id>",
                  f'<link rel="alternate" href="{_attr(h.url)}"/>',
                  f'<link rel="related" href="{_attr(base + "/articles/" + h.id)}"/>',
                  f"<updated>{escape(when)}</updated>",
                  f"<published>{escape(when)}</published>"]
        parts += [f"<author><name>{escape(a)}</name></author>" for a in authors]
        parts += [f'<category term="{_attr(e["id"] or "")}" label="{_attr(e["name"] or "")}"/>' for e in h.entities]
        parts += [f'<summary type="text">{escape(summary)}</summary>', "</entry>"]
    parts.append("</feed>")
    return "\n".join(parts)
