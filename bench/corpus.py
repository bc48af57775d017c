"""The real pages and texts every benchmark reads from ``../shared/data``.

``news_pages()`` decompresses the 2,175 news pages of ``news-pages/`` in memory (bytes as
published, original encoding kept) with their manifest records; ``benchmark_pages()`` reads
the 181 pages and the ground truth of ``extraction-benchmark/``; ``topic_records()`` the
topic development set. Nothing is copied into the repository.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from dealwatch.settings import REPO_ROOT

SHARED_DATA = Path(os.environ.get("DEALWATCH_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


class MissingData(RuntimeError):
    """The shared data folder is not where the benchmark expects it."""


def data_path(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        raise MissingData(f"{path} not found: set DEALWATCH_SHARED_DATA to the folder holding news-pages/ "
                          "and extraction-benchmark/")
    return path


@dataclass(frozen=True)
class NewsPage:
    key: str                 # file name without .html.gz, unique
    html: bytes              # as published (any encoding)
    record: dict[str, Any]   # the manifest line

    @property
    def language(self) -> str:
        return self.record.get("language") or ""

    @property
    def title(self) -> str:
        """The ground-truth title, or the file's key when the manifest has none."""
        return self.record.get("gt_title") or self.key

    def ground_truth(self) -> str | None:
        name = self.record.get("ground_truth_text")
        if not name:
            return None
        return gzip.open(data_path("news-pages", name), "rt", encoding="utf-8").read()


@lru_cache(maxsize=4)
def news_pages(limit: int | None = None) -> tuple[NewsPage, ...]:
    """The news pages in manifest order (the first ``limit`` when given)."""
    folder = data_path("news-pages")
    pages = []
    with open(folder / "manifest.jsonl", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            html = gzip.open(folder / rec["file"]).read()
            pages.append(NewsPage(rec["file"].removesuffix(".html.gz"), html, rec))
            if limit and len(pages) >= limit:
                break
    return tuple(pages)


def spread(pages: tuple[NewsPage, ...], n: int) -> tuple[NewsPage, ...]:
    """``n`` pages taken evenly over all four datasets (smoke runs)."""
    if n >= len(pages):
        return pages
    step = len(pages) / n
    return tuple(pages[int(i * step)] for i in range(n))


@dataclass(frozen=True)
class BenchmarkPage:
    id: str
    url: str
    html: bytes
    truth: str


def benchmark_pages() -> list[BenchmarkPage]:
    folder = data_path("extraction-benchmark")
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id, item in sorted(truth.items()):
        html = gzip.open(folder / "html" / f"{page_id}.html.gz").read()
        pages.append(BenchmarkPage(page_id, item.get("url") or "", html, item.get("articleBody") or ""))
    return pages


def topic_records() -> list[dict[str, Any]]:
    path = data_path("topic-dev", "articles.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
