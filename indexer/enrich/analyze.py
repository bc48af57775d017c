"""``dealwatch analyze``: enrichment of JSON lines from a file, the contract quality is checked by.

Each input record has ``text`` and optionally ``id``, ``title``, ``lang``, ``url``; each output
line is ``{"id", "lang", "relevance": {"score", "relevant", "evidence"}, "entities": [{"id",
"name", "type", "count"}], "other_names": [...]}``, computed by :func:`indexer.enrich.enrich_document`
(the indexing code path). Bad records (not JSON, no text) are reported on stderr, counted,
and skipped; the run goes on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import IO, Any, Iterable, Iterator

from indexer.enrich import enrich_document

log = logging.getLogger(__name__)


@dataclass
class AnalyzeResult:
    read: int = 0
    written: int = 0
    failed: int = 0
    relevant: int = 0
    errors: list[str] = field(default_factory=list)


def analyze_record(record: dict[str, Any], settings, fallback_id: str) -> dict[str, Any]:
    title = (record.get("title") or "").strip()
    text = record.get("text") or ""
    if title and text.lstrip().startswith(title):
        # many exports repeat the headline as the text's first line: count it once, as the title
        text = text.lstrip()[len(title):].lstrip()
    doc = {
        "id": str(record.get("id") or fallback_id),
        "title": title,
        "text": text,
        "lang": record.get("lang") or None,
        "url": record.get("url") or "",
    }
    e = enrich_document(doc, settings)
    return {
        "id": doc["id"],
        "lang": doc["lang"] or e.get("lang"),
        "relevance": {"score": e["relevance_score"], "relevant": e["relevant"], "evidence": e["relevance_evidence"]},
        "entities": [{"id": x["id"], "name": x["name"], "type": x["type"], "count": x["count"]} for x in e["entities"]],
        "other_names": e["other_names"],
    }


def iter_analyses(lines: Iterable[str], settings, result: AnalyzeResult) -> Iterator[dict[str, Any]]:
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        result.read += 1
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            _fail(result, f"line {lineno}: not JSON ({exc.msg})")
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            _fail(result, f"line {lineno}: a record needs a 'text' string")
            continue
        out = analyze_record(record, settings, fallback_id=f"line-{lineno}")
        result.written += 1
        result.relevant += int(out["relevance"]["relevant"])
        yield out


def analyze_stream(inp: IO[str], out: IO[str], settings) -> AnalyzeResult:
    result = AnalyzeResult()
    for rec in iter_analyses(inp, settings, result):
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return result


def _fail(result: AnalyzeResult, message: str) -> None:
    result.failed += 1
    if len(result.errors) < 50:
        result.errors.append(message)
    log.warning("analyze: %s", message)
