"""Presentation helpers: turn the archive's plain answers into safe HTML pieces (highlights,
diff, marked evidence) and the attention chart's view (its data for ``static/chart.js``, its table).

Every function here escapes crawled text before adding its own markup, so templates may
mark their output ``|safe``. Nothing here talks to the archive.
"""

from __future__ import annotations

import difflib
import html
from datetime import datetime
from typing import Any, Iterable

from markupsafe import Markup

from dealwatch.dates import parse_datetime
from indexer.query import HL_POST, HL_PRE, Attention, Hit, entities_of

__all__ = ["highlight_to_html", "highlight_html", "hit_json", "attention_view", "text_with_evidence",
           "version_diffs", "fmt_date", "bucket_label", "entities_of"]


def highlight_to_html(text: str) -> str:
    """Escape crawled text, then turn the highlight sentinels into <mark>: only the markers become markup."""
    escaped = html.escape(text or "", quote=True)
    # a fragment may end inside a marked phrase; close what is open
    out = escaped.replace(HL_PRE, "<mark>").replace(HL_POST, "</mark>")
    opened = out.count("<mark>") - out.count("</mark>")
    return out + "</mark>" * max(0, opened)


def hit_json(hit: Hit) -> dict[str, Any]:
    """A hit as the JSON API shows it: the plain fields plus the highlighted title and snippet as HTML."""
    return {**hit.as_dict(), "title_html": highlight_to_html(hit.title_hl),
            "snippet_html": highlight_to_html(hit.snippet_hl)}


def safe_url(url: str | None) -> str:
    """A crawled URL as a link target only when it is http(s); anything else (javascript:, data:) is inert."""
    url = (url or "").strip()
    return url if url.lower().startswith(("http://", "https://")) else "#"


def highlight_html(text: str) -> Markup:
    return Markup(highlight_to_html(text))


def fmt_date(value: Any, with_time: bool = False) -> str:
    if not value:
        return ""
    if not isinstance(value, datetime):
        parsed = parse_datetime(value)
        if parsed is None:       # not a date this calendar holds: shown as stored
            return str(value)[:16]
        value = parsed
    return value.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")


_LABELS = {"hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "week": "week of %Y-%m-%d", "month": "%Y-%m",
           "year": "%Y"}
INTERVAL_NOUNS = {"hour": "hour", "day": "day", "week": "week", "month": "month", "year": "year"}


def bucket_label(start: datetime, interval: str) -> str:
    return start.strftime(_LABELS.get(interval, "%Y-%m-%d"))


SERIES_COLOURS = 4   # .series-0 … .series-3 in style.css (Okabe–Ito colours, told apart by colour-blind readers)


def attention_view(att: Attention, csv_url: str, label: str | None = None) -> dict[str, Any]:
    """What the chart partial (``_chart.html``) shows: the series as data for the chart script, the same
    numbers as table rows (the accessible and printable view), and its links. ``label`` names the first
    series where its query says nothing (an entity page's mentions)."""
    data = att.as_dict()
    labels = [s.label for s in att.series]
    if label and att.series and not att.series[0].q:
        labels[0] = data["series"][0]["label"] = label
    ranges = [(bucket_label(st, att.interval), a) for st, a in zip(att.starts, att.archived)]
    rows = []
    for k, (label, archived) in enumerate(ranges):
        rows.append({"label": label, "archived": archived,
                     "cells": [(s.counts[k], att.shares(s)[k]) for s in att.series]})
    return {
        "data": {**data, "unit": INTERVAL_NOUNS.get(att.interval, att.interval)},
        "interval": att.interval, "unit": INTERVAL_NOUNS.get(att.interval, att.interval),
        "series": [{"label": labels[i], "q": s.q, "total": s.total, "colour": i % SERIES_COLOURS}
                   for i, s in enumerate(att.series)],
        "rows": rows, "empty": not att.starts,
        "first": ranges[0][0] if ranges else "", "last": ranges[-1][0] if ranges else "",
        "csv_url": csv_url,
    }


def evidence_list(evidence: Any) -> list[str]:
    if not evidence:
        return []
    if isinstance(evidence, str):
        return [evidence]
    out = []
    for e in evidence:
        if isinstance(e, str):
            out.append(e)
        elif isinstance(e, dict) and e.get("sentence") or isinstance(e, dict) and e.get("text"):
            out.append(e.get("sentence") or e.get("text"))
    return list(dict.fromkeys(s.strip() for s in out if s and s.strip()))  # once each, in order


_EVIDENCE_MARK = '<mark class="evidence" title="relevance evidence">'


def evidence_spans(text: str, sentences: Iterable[str]) -> list[tuple[int, int]]:
    """Where the evidence sentences occur in ``text``: (start, end) pairs in order that never overlap
    (a longer sentence wins over one it contains; of two overlapping, the earlier one)."""
    found = []
    for s in sorted(set(sentences), key=len, reverse=True):
        start = text.find(s)
        while s and start >= 0:
            found.append((start, start + len(s)))
            start = text.find(s, start + len(s))
    spans: list[tuple[int, int]] = []
    for start, end in sorted(found, key=lambda p: (p[0], -p[1])):
        if not spans or start >= spans[-1][1]:
            spans.append((start, end))
    return spans


def text_with_evidence(text: str, evidence: Any) -> list[Markup]:
    """The article text as escaped paragraphs, the relevance evidence sentences marked: the places are found
    in the plain text first, then each piece is escaped, so a mark never lands inside another or its markup."""
    sentences = evidence_list(evidence)
    paragraphs = []
    for para in (text or "").split("\n"):
        para = para.strip()
        if not para:
            continue
        out, at = [], 0
        for start, end in evidence_spans(para, sentences):
            out += [html.escape(para[at:start]), _EVIDENCE_MARK, html.escape(para[start:end]), "</mark>"]
            at = end
        out.append(html.escape(para[at:]))
        paragraphs.append(Markup("".join(out)))
    return paragraphs


def version_diffs(versions: list[dict[str, Any]], current: dict[str, Any]) -> list[dict[str, Any]]:
    """For each change: dates, version numbers and the changed lines (unified diff, escaped later by Jinja)."""
    chain = [*versions, {"version": current.get("version"), "title": current.get("title"),
                         "text": current.get("text"), "valid_from": current.get("updated_at")}]
    out = []
    for old, new in zip(chain, chain[1:]):
        old_lines = _lines(old)
        new_lines = _lines(new)
        diff = list(difflib.unified_diff(old_lines, new_lines, lineterm="", n=1))[2:]
        out.append({"from_version": old.get("version"), "to_version": new.get("version"),
                    "from_date": old.get("valid_from"), "to_date": new.get("valid_from") or old.get("valid_to"),
                    "lines": [{"kind": _kind(line), "text": line} for line in diff]})
    return out


def _lines(v: dict[str, Any]) -> list[str]:
    text = f"{v.get('title') or ''}\n" + (v.get("text") or "")
    return [line.strip() for line in text.split("\n") if line.strip()]


def _kind(line: str) -> str:
    return {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")


def join_names(items: Iterable[str]) -> str:
    return ", ".join(i for i in items if i)
