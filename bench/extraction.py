"""Section 5: extraction quality of the text the pipeline stores, against plain trafilatura.

Scores follow the extraction benchmark's own ``evaluate.py`` (Zyte's article-extraction-
benchmark): ``\\w+`` tokens, 4-token shingles counted as bags, per page tp/fp/fn normalised to
sum 1, precision and recall averaged over pages, F1 the harmonic mean of the two averages.
Variants: :func:`crawler.extract.extract_article` in each of its modes (what the crawler
stores; a dropped page counts as empty text), and ``trafilatura.extract()`` with its default,
``favor_precision``, ``favor_recall`` and ``fast`` settings. The same metric is also applied to
the news pages that have a full ground-truth body (fundus, ir-research-data). Dates: the
share of pages where the pipeline finds a publication date, and on news pages with a
``gt_date`` the share found within ±1 day of it.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import re
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable

from bench import corpus

log = logging.getLogger(__name__)

_TOKEN_RE = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)


# ----------------------------------------------------------------------------- the metric
def shingles(text: str, n: int = 4) -> Counter:
    tokens = _TOKEN_RE.findall(text or "")
    out: Counter = Counter()
    for i in range(0, max(1, len(tokens) - n + 1)):
        shingle = tuple(tokens[i:i + n])
        if shingle:
            out[shingle] += 1
    return out


def tp_fp_fn(true: str, pred: str) -> tuple[float, float, float]:
    t, p = shingles(true), shingles(pred)
    tp = fp = fn = 0.0
    for key in t.keys() | p.keys():
        tc, pc = t.get(key, 0), p.get(key, 0)
        tp += min(tc, pc)
        fp += max(0, pc - tc)
        fn += max(0, tc - pc)
    s = tp + fp + fn
    return (tp / s, fp / s, fn / s) if s > 0 else (tp, fp, fn)


def _precision(tp, fp, fn):
    if fp == fn == 0:
        return 1.0
    if tp == fp == 0:
        return 0.0
    return tp / (tp + fp)


def _recall(tp, fp, fn):
    if fp == fn == 0:
        return 1.0
    if tp == fn == 0:
        return 0.0
    return tp / (tp + fn)


@dataclass
class Score:
    name: str
    pages: int
    precision: float
    recall: float
    seconds: float = 0.0

    @property
    def f1(self) -> float:
        s = self.precision + self.recall
        return 2 * self.precision * self.recall / s if s else 0.0


def score(name: str, pairs: list[tuple[str, str]], seconds: float = 0.0) -> Score:
    counts = [tp_fp_fn(t, p) for t, p in pairs]
    precision = statistics.mean([_precision(*c) for c in counts if c[0] + c[1] > 0] or [0.0])
    recall = statistics.mean([_recall(*c) for c in counts if c[0] + c[2] > 0] or [0.0])
    return Score(name, len(pairs), precision, recall, seconds)


# ----------------------------------------------------------------------------- extractors
def _pipeline(mode: str) -> Callable[[bytes, str], tuple[str, str | None]]:
    def run(html: bytes, url: str) -> tuple[str, str | None]:
        from crawler.extract import Dropped, extract_article
        art = extract_article(html, url or "http://bench.invalid/page", "bench", "", mode=mode, min_text_chars=1)
        if isinstance(art, Dropped):
            return "", None
        return art.text, art.published_at.date().isoformat() if art.published_at else None
    return run


def _trafilatura(**options) -> Callable[[bytes, str], tuple[str, str | None]]:
    def run(html: bytes, url: str) -> tuple[str, str | None]:
        import trafilatura
        return trafilatura.extract(html, url=url or None, **options) or "", None
    return run


def variants(configured_mode: str) -> dict[str, Callable]:
    out = {f"pipeline extract_article (mode={configured_mode}, configured)": _pipeline(configured_mode)}
    for mode in ("balanced", "precision", "recall", "fast"):
        if mode != configured_mode:
            out[f"pipeline extract_article (mode={mode})"] = _pipeline(mode)
    out["trafilatura.extract() default"] = _trafilatura()
    out["trafilatura.extract(favor_precision=True)"] = _trafilatura(favor_precision=True)
    out["trafilatura.extract(favor_recall=True)"] = _trafilatura(favor_recall=True)
    out["trafilatura.extract(fast=True)"] = _trafilatura(fast=True)
    return out


_jobs: list[tuple[bytes, str]] = []
_func: Callable | None = None


def _call(i: int):
    html, url = _jobs[i]
    try:
        return _func(html, url)
    except Exception as exc:  # one hostile page must not end the evaluation: count it as empty
        log.warning("extraction failed on %s: %s", url, exc)
        return "", None


def run_variant(func: Callable, jobs: list[tuple[bytes, str]], workers: int = 2) -> tuple[list, float]:
    global _jobs, _func
    _jobs, _func = jobs, func
    start = time.perf_counter()
    with mp.get_context("fork").Pool(workers) as pool:
        out = pool.map(_call, range(len(jobs)), chunksize=4)
    return out, time.perf_counter() - start


# ----------------------------------------------------------------------------- dates
def _gt_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")[:25]).date()
    except ValueError:
        try:
            return date.fromisoformat(str(value)[:10])
        except ValueError:
            return None


@dataclass
class DateScore:
    name: str
    pages: int
    found: int
    within_1_day: int | None = None

    @property
    def coverage(self) -> float:
        return self.found / self.pages if self.pages else 0.0

    @property
    def accuracy(self) -> float | None:
        return None if self.within_1_day is None or not self.pages else self.within_1_day / self.pages


@dataclass
class ExtractionResults:
    benchmark: list[Score]
    news: list[Score]
    dates: list[DateScore]
    configured_mode: str


def run(configured_mode: str, smoke: bool = False) -> ExtractionResults:
    bench_pages = corpus.benchmark_pages()
    if smoke:
        bench_pages = bench_pages[:8]
    jobs = [(p.html, p.url) for p in bench_pages]
    truths = [p.truth for p in bench_pages]
    benchmark: list[Score] = []
    dates: list[DateScore] = []
    for name, func in variants(configured_mode).items():
        out, seconds = run_variant(func, jobs)
        benchmark.append(score(name, list(zip(truths, [t for t, _ in out])), seconds))
        log.info("%s: F1 %.3f", name, benchmark[-1].f1)
        if "configured" in name:
            dates.append(DateScore("extraction-benchmark (pipeline)", len(out), sum(1 for _, d in out if d)))

    pages = corpus.news_pages()
    if smoke:
        pages = corpus.spread(pages, 24)
    with_truth = [(p, p.ground_truth()) for p in pages if p.record.get("ground_truth_text")]
    news_jobs = [(p.html, p.record.get("url") or "") for p, _ in with_truth]
    news: list[Score] = []
    news_variants = {k: v for k, v in variants(configured_mode).items()
                     if "configured" in k or k in ("trafilatura.extract() default",)
                     or ("pipeline" in k and not smoke)}
    for name, func in news_variants.items():
        out, seconds = run_variant(func, news_jobs)
        news.append(score(name, [(t, o[0]) for (_, t), o in zip(with_truth, out)], seconds))
        log.info("news pages %s: F1 %.3f", name, news[-1].f1)

    dated = [p for p in pages if _gt_date(p.record.get("gt_date"))]
    out, _ = run_variant(_pipeline(configured_mode), [(p.html, p.record.get("url") or "") for p in dated])
    found = within = 0
    for p, (_, got) in zip(dated, out):
        if got:
            found += 1
            if abs((date.fromisoformat(got) - _gt_date(p.record["gt_date"])).days) <= 1:
                within += 1
    dates.append(DateScore("news-pages with gt_date (pipeline)", len(dated), found, within))
    return ExtractionResults(benchmark, news, dates, configured_mode)
