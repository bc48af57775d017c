"""BENCHMARKS.md: one section per benchmark, rewritten only for the sections that ran.

The file is a list of ``## `` sections. A run replaces the sections it measured, keeps the
others as they were (each section states its own date and command), keeps sections written
by others (``## Enrichment quality (issue 4)`` comes from ``bench/eval_enrich.py``), and
rebuilds the summary from each section's ``**Headline:**`` line and the machine section.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

TITLE = "# DealWatch benchmarks"
INTRO = ("Measured by the harness in `bench/` (`python -m bench all`, or `dealwatch bench <section>` for one "
         "section; `--smoke` for tiny sizes). Ratios are measured within one run, since this 2-core machine is "
         "shared and absolute times vary; each section says when it ran and what the machine load was.")

SUMMARY = "## Summary"
MACHINE = "## Machine and versions"
THROUGHPUT = "## 1. Crawl → extract → enrich → index throughput"
INDEXING = "## 2. Bulk indexing"
SEARCH = "## 3. Search at archive scale"
EXPORT = "## 4. CSV export"
EXTRACTION = "## 5. Extraction quality"
IMPORT = "## 6. Backfill from WARC (dealwatch import)"
ENRICHMENT = "## Enrichment quality (issue 4)"
ORDER = [SUMMARY, MACHINE, THROUGHPUT, INDEXING, SEARCH, EXPORT, EXTRACTION, IMPORT, ENRICHMENT]


def table(headers: list[str], rows: Iterable[Iterable[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}" if abs(v) < 1000 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v).replace("|", "\\|")
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def parse(text: str) -> dict[str, str]:
    """Heading -> body (without the heading line), in file order."""
    sections: dict[str, str] = {}
    current: str | None = None
    buf: list[str] = []
    for line in text.splitlines():
        if line.startswith("## "):
            if current is not None:
                sections[current] = "\n".join(buf).strip("\n")
            current, buf = line.rstrip(), []
        elif current is not None:
            buf.append(line)
    if current is not None:
        sections[current] = "\n".join(buf).strip("\n")
    return sections


def _summary(sections: dict[str, str]) -> str:
    lines = []
    for heading in ORDER[2:]:
        body = sections.get(heading)
        if not body:
            continue
        m = re.search(r"^\*\*Headline:\*\* (.+)$", body, re.M)
        if m:
            lines.append(f"- **{heading[3:]}**: {m.group(1)}")
    return "\n".join(lines) or "No section has run yet."


def write(path: Path, new_sections: dict[str, str]) -> str:
    old = parse(path.read_text(encoding="utf-8")) if path.exists() else {}
    merged = dict(old)
    merged.update(new_sections)
    merged[SUMMARY] = _summary(merged)
    out = [TITLE, "", INTRO, ""]
    for heading in ORDER + [h for h in merged if h not in ORDER]:
        if heading in merged and merged[heading].strip():
            out += [heading, "", merged[heading].strip(), ""]
    text = "\n".join(out)
    path.write_text(text, encoding="utf-8")
    return text


def machine_section(facts: dict[str, str]) -> str:
    return "Facts of the machine at the last run of any section:\n\n" + table(
        ["fact", "value"], facts.items())
