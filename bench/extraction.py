"""Section 5: extraction quality of the text the pipeline stores, against plain trafilatura.

Scores follow the extraction benchmark's own ``evaluate.py`` (Zyte's article-extraction-
benchmark): ``\\w+`` tokens, 4-token shingles counted as bags, per page tp/fp/fn normalised to
sum 1, precision and recall averaged over pages, F1 the harmonic mean of the two averages.
Variants: :func:`crawler.extract.extract_article` in each of its modes (what the crawler
stores; a dropped page counts as empty text), and ``trafilatura.extract()`` with its default,
``favor_precision``, ``favor_recall`` and ``fast`` settings. The same metric is also applied to
the news pages that have a full ground-truth body, per page set (``fundus-*``, ``irdata-*``).
Dates: the share of pages where the pipeline finds a publication date, and on news pages with
a ``gt_date`` the share found within ±1 day of it.

Fundus (publisher-specific parsers, :mod:`crawler.fundus_extract`) runs in its own venv
(:mod:`bench.fundus_env`: its lxml pin clashes with ours) through ``bench/fundus_worker.py``.
Two rows come from it: "Fundus alone" (empty text where it has no parser or fails) and
"extract_article + Fundus", what ``extract_article`` does with ``fundus_extraction`` on: per page,
Fundus' text, title, authors and date when :func:`crawler.extract.fundus_text_usable` accepts its
text (the rest of the metadata from ``trafilatura.extract_metadata``, timed here), else the
pipeline's result. Its CPU per page is the sum of the parts it runs. Title, author and date
accuracy are compared on the pages whose publisher Fundus has a parser for.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import re
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

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
    seconds: float = 0.0      # wall time of the variant (2 processes)
    cpu: float = 0.0          # CPU seconds summed over the pages
    page_set: str = ""

    @property
    def cpu_ms(self) -> float:
        return self.cpu / self.pages * 1000 if self.pages else 0.0

    @property
    def f1(self) -> float:
        s = self.precision + self.recall
        return 2 * self.precision * self.recall / s if s else 0.0


def score(name: str, pairs: list[tuple[str, str]], seconds: float = 0.0, cpu: float = 0.0,
          page_set: str = "") -> Score:
    counts = [tp_fp_fn(t, p) for t, p in pairs]
    precision = statistics.mean([_precision(*c) for c in counts if c[0] + c[1] > 0] or [0.0])
    recall = statistics.mean([_recall(*c) for c in counts if c[0] + c[2] > 0] or [0.0])
    return Score(name, len(pairs), precision, recall, seconds, cpu, page_set)


# ----------------------------------------------------------------------------- the pages
@dataclass(frozen=True)
class Job:
    """One page to extract, with whatever its ground truth holds."""

    key: str
    page_set: str                   # extraction-benchmark | fundus-* | irdata-* | trafilatura-* | htmldate-*
    html: bytes
    url: str
    crawled_at: str | None = None   # ISO; chooses the Fundus parser version
    truth: str | None = None
    gt_title: str | None = None
    gt_authors: tuple[str, ...] | None = None
    gt_date: date | None = None


def _news_job(p) -> Job:
    rec = p.record
    crawled = (rec.get("crawl_date") or "").replace(" ", "T") or None
    authors = rec.get("gt_authors")
    return Job(p.key, p.key.split("-", 1)[0] + "-*", p.html, rec.get("url") or "", crawled, p.ground_truth(),
               rec.get("gt_title"), tuple(authors) if authors else None, _gt_date(rec.get("gt_date")))


# ----------------------------------------------------------------------------- extractors
# Each extractor returns {"text", "title", "authors", "date"} (date: YYYY-MM-DD or None).
def _empty() -> dict[str, Any]:
    return {"text": "", "title": "", "authors": [], "date": None}


def _crawled(job: Job) -> datetime | None:
    if not job.crawled_at:
        return None
    dt = datetime.fromisoformat(job.crawled_at)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _pipeline(mode: str) -> Callable[[Job], dict[str, Any]]:
    def run(job: Job) -> dict[str, Any]:
        from crawler.extract import Dropped, extract_article
        art = extract_article(job.html, job.url or "http://bench.invalid/page", "bench", "", mode=mode,
                              min_text_chars=1, crawled_at=_crawled(job), fundus=False)
        if isinstance(art, Dropped):
            return _empty()
        return {"text": art.text, "title": art.title, "authors": art.authors,
                "date": art.published_at.date().isoformat() if art.published_at else None}
    return run


def _trafilatura(**options) -> Callable[[Job], dict[str, Any]]:
    def run(job: Job) -> dict[str, Any]:
        import trafilatura
        return {**_empty(), "text": trafilatura.extract(job.html, url=job.url or None, **options) or ""}
    return run


def _metadata(job: Job) -> dict[str, Any]:
    """What extract_article runs besides Fundus when it keeps Fundus' text (timed for its CPU)."""
    import trafilatura
    from crawler.extract import _DATE_PARAMS, decode_html
    doc = trafilatura.extract_metadata(decode_html(job.html), default_url=job.url or None, date_config=_DATE_PARAMS)
    return {**_empty(), "title": doc.title or ""}


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


_jobs: list[Job] = []
_func: Callable | None = None


def _call(i: int) -> tuple[dict[str, Any], float]:
    job = _jobs[i]
    start = time.process_time()
    try:
        out = _func(job)
    except Exception as exc:  # one hostile page must not end the evaluation: count it as empty
        log.warning("extraction failed on %s: %s", job.key, exc)
        out = _empty()
    return out, time.process_time() - start


@dataclass
class VariantRun:
    outputs: list[dict[str, Any]]
    cpu: list[float]          # CPU seconds per page (in its worker process)
    seconds: float            # wall time of the whole run

    def subset(self, idx: list[int]) -> "VariantRun":
        return VariantRun([self.outputs[i] for i in idx], [self.cpu[i] for i in idx], 0.0)


def _warm() -> None:
    """Each worker extracts the first page once, untimed: lazy imports and models (language
    detector, date parser) are loaded before the CPU of the pages is counted."""
    if _jobs:
        _call(0)


def run_variant(func: Callable, jobs: list[Job], workers: int = 2) -> VariantRun:
    global _jobs, _func
    _jobs, _func = jobs, func
    start = time.perf_counter()
    with mp.get_context("fork").Pool(workers, initializer=_warm) as pool:
        out = pool.map(_call, range(len(jobs)), chunksize=4)
    return VariantRun([o for o, _ in out], [c for _, c in out], time.perf_counter() - start)


# ----------------------------------------------------------------------------- Fundus (own venv)
@dataclass
class FundusRun:
    supported: list[bool]                 # Fundus has a parser for the page's host
    results: list[dict[str, Any] | None]  # what the parser found (None: no parser, or it failed)
    cpu: list[float]
    seconds: float
    versions: dict[str, str] = field(default_factory=dict)


def run_fundus(jobs: list[Job], python: Path, workers: int = 2) -> FundusRun:
    """The adapter (crawler.fundus_extract.parse) over the pages, in the Fundus venv."""
    from bench import fundus_env
    from crawler.extract import decode_html
    worker = Path(__file__).with_name("fundus_worker.py")
    with tempfile.TemporaryDirectory(prefix="dealwatch-fundus-") as tmp:
        jobs_file, out_file = Path(tmp) / "jobs.jsonl", Path(tmp) / "out.jsonl"
        with open(jobs_file, "w", encoding="utf-8") as fh:
            for job in jobs:
                fh.write(json.dumps({"url": job.url, "html": decode_html(job.html), "crawled_at": job.crawled_at},
                                    ensure_ascii=False) + "\n")
        start = time.perf_counter()
        subprocess.run([str(python), str(worker), str(jobs_file), str(out_file), str(workers)], check=True,
                       stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        answers = [json.loads(line) for line in open(out_file, encoding="utf-8")]
    if len(answers) != len(jobs):
        raise RuntimeError(f"fundus worker answered {len(answers)} of {len(jobs)} pages")
    errors = [a["error"] for a in answers if a.get("error")]
    if errors:
        log.warning("the fundus adapter raised on %d pages, e.g. %s", len(errors), errors[0])
    return FundusRun([a["supported"] for a in answers], [a["result"] for a in answers], [a["cpu"] for a in answers],
                     seconds, fundus_env.versions(python))


def _fundus_out(result: dict[str, Any] | None) -> dict[str, Any]:
    if not result:
        return _empty()
    when = result.get("published_at")
    return {"text": result["text"], "title": result["title"], "authors": result["authors"],
            "date": datetime.fromisoformat(when).date().isoformat() if when else None}


def combine(pipeline: VariantRun, fundus: FundusRun, metadata: dict[int, float]) -> tuple[VariantRun, list[bool]]:
    """extract_article with fundus_extraction on, page by page: Fundus' fields where its text is
    usable (the others from the pipeline's metadata), else the pipeline's result. ``metadata`` is
    the CPU of ``trafilatura.extract_metadata`` for the pages where Fundus' text is kept."""
    from crawler.extract import fundus_text_usable
    outputs, cpu, used = [], [], []
    for i, (base, found) in enumerate(zip(pipeline.outputs, fundus.results)):
        keep = found is not None and fundus_text_usable(found["text"], 1)  # the bench's min_text_chars
        used.append(keep)
        if keep:
            f = _fundus_out(found)
            outputs.append({"text": f["text"], "title": f["title"] or base["title"],
                            "authors": f["authors"] or base["authors"], "date": f["date"] or base["date"]})
            cpu.append(fundus.cpu[i] + metadata[i])
        else:
            outputs.append(base)
            cpu.append((fundus.cpu[i] if fundus.supported[i] else 0.0) + pipeline.cpu[i])
    return VariantRun(outputs, cpu, 0.0), used


# ----------------------------------------------------------------------------- dates and metadata
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


def _norm(text: str | None) -> str:
    return " ".join((text or "").replace("\u00a0", " ").split()).casefold()


def date_ok(got: str | None, truth: date | None) -> bool:
    return bool(got and truth and abs((date.fromisoformat(got) - truth).days) <= 1)


def title_ok(got: str | None, truth: str | None) -> bool:
    return bool(truth) and _norm(got) == _norm(truth)


def authors_ok(got: list[str] | None, truth: tuple[str, ...] | None) -> bool:
    return truth is not None and {_norm(a) for a in got or []} == {_norm(a) for a in truth}


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
class FieldScore:
    """Share of pages (with that field in the ground truth) whose field an extractor got right."""

    page_set: str
    field: str
    pages: int
    correct: dict[str, int]     # extractor -> pages right


@dataclass
class SupportedRow:
    """One page set, only the pages whose publisher Fundus has a parser for."""

    page_set: str
    pages: int
    supported: int
    used: int                   # pages where extract_article + Fundus keeps Fundus' text
    scores: list[Score]         # pipeline, Fundus alone, extract_article + Fundus on the supported pages


@dataclass
class ExtractionResults:
    benchmark: list[Score]
    news: list[Score]
    dates: list[DateScore]
    configured_mode: str
    supported: list[SupportedRow] = field(default_factory=list)
    fields: list[FieldScore] = field(default_factory=list)
    fundus_versions: dict[str, str] = field(default_factory=dict)
    fundus_skipped: str = ""    # why Fundus was not measured, when it was not


FUNDUS_ALONE = "Fundus alone (empty where it has no parser)"
WITH_FUNDUS = "extract_article + Fundus (fundus_extraction on)"


def _fundus_python(smoke: bool) -> tuple[Path | None, str]:
    from bench import fundus_env
    if smoke and not fundus_env.venv_python().exists():
        return None, "smoke run without a Fundus venv (a full run creates it)"
    try:
        return fundus_env.ensure_venv(), ""
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        log.warning("Fundus venv not available: %s", exc)
        return None, f"Fundus venv not available: {exc}"


def run(configured_mode: str, smoke: bool = False) -> ExtractionResults:
    bench_pages = corpus.benchmark_pages()
    if smoke:
        bench_pages = bench_pages[:8]
    bench_jobs = [Job(p.id, "extraction-benchmark", p.html, p.url, None, p.truth) for p in bench_pages]
    pages = corpus.news_pages()
    if smoke:
        pages = corpus.spread(pages, 24)
    news_jobs = [_news_job(p) for p in pages if p.record.get("ground_truth_text") or _gt_date(p.record.get("gt_date"))]
    jobs = bench_jobs + news_jobs
    nb = len(bench_jobs)
    truth_idx = [nb + i for i, j in enumerate(news_jobs) if j.truth is not None]
    sets = {name: [i for i in truth_idx if jobs[i].page_set == name] for name in ("fundus-*", "irdata-*")}
    sets = {k: v for k, v in sets.items() if v}
    bench_idx = list(range(nb))

    configured = f"pipeline extract_article (mode={configured_mode}, configured)"
    benchmark: list[Score] = []
    news: list[Score] = []
    runs: dict[str, VariantRun] = {}
    for name, func in variants(configured_mode).items():
        on_news = "configured" in name or name == "trafilatura.extract() default" or (
            name.startswith("pipeline") and not smoke)
        idx = (list(range(len(jobs))) if "configured" in name else bench_idx + (truth_idx if on_news else []))
        r = run_variant(func, [jobs[i] for i in idx])
        full = VariantRun([_empty()] * len(jobs), [0.0] * len(jobs), r.seconds)
        for k, i in enumerate(idx):
            full.outputs[i], full.cpu[i] = r.outputs[k], r.cpu[k]
        runs[name] = full
        benchmark.append(_score(name, jobs, full, bench_idx, r.seconds if "configured" not in name else 0.0))
        log.info("%s: F1 %.3f", name, benchmark[-1].f1)
        if on_news:
            for set_name, idx_set in sets.items():
                news.append(_score(name, jobs, full, idx_set, 0.0, set_name))
    if benchmark:  # the configured run covered every page: time its benchmark part on its own
        again = run_variant(variants(configured_mode)[configured], [jobs[i] for i in bench_idx])
        benchmark[0].seconds = again.seconds

    dates = [DateScore("extraction-benchmark (pipeline)", nb, sum(1 for i in bench_idx
                                                                 if runs[configured].outputs[i]["date"]))]
    dated = [i for i in range(nb, len(jobs)) if jobs[i].gt_date]
    res = ExtractionResults(benchmark, news, dates, configured_mode)
    _date_row(res, "news-pages with gt_date (pipeline)", jobs, runs[configured], dated)

    python, res.fundus_skipped = _fundus_python(smoke)
    if python is None:
        return res
    fundus = run_fundus(jobs, python)
    res.fundus_versions = fundus.versions
    usable_idx = [i for i, f in enumerate(fundus.results) if f is not None]
    meta = run_variant(_metadata, [jobs[i] for i in usable_idx])
    meta_cpu = {i: meta.cpu[k] for k, i in enumerate(usable_idx)}
    alone = VariantRun([_fundus_out(r) for r in fundus.results], fundus.cpu, fundus.seconds)
    combined, used = combine(runs[configured], fundus, meta_cpu)
    runs[FUNDUS_ALONE], runs[WITH_FUNDUS] = alone, combined
    benchmark += [_score(FUNDUS_ALONE, jobs, alone, bench_idx), _score(WITH_FUNDUS, jobs, combined, bench_idx)]
    for set_name, idx_set in sets.items():
        news += [_score(FUNDUS_ALONE, jobs, alone, idx_set, page_set=set_name),
                 _score(WITH_FUNDUS, jobs, combined, idx_set, page_set=set_name)]
    for set_name, idx_set in [("extraction-benchmark", bench_idx), *sets.items()]:
        sup = [i for i in idx_set if fundus.supported[i]]
        res.supported.append(SupportedRow(set_name, len(idx_set), len(sup), sum(used[i] for i in sup),
                                          [_score(n, jobs, runs[n], sup, page_set=set_name)
                                           for n in (configured, FUNDUS_ALONE, WITH_FUNDUS)] if sup else []))
    _date_row(res, "news-pages with gt_date (extract_article + Fundus)", jobs, combined, dated)
    res.fields = _fields(jobs, runs, [i for i in dated + truth_idx if fundus.supported[i]],
                         (configured, FUNDUS_ALONE, WITH_FUNDUS))
    return res


def _score(name: str, jobs: list[Job], r: VariantRun, idx: list[int], seconds: float = 0.0,
           page_set: str = "") -> Score:
    return score(name, [(jobs[i].truth or "", r.outputs[i]["text"]) for i in idx], seconds,
                 sum(r.cpu[i] for i in idx), page_set)


def _date_row(res: ExtractionResults, name: str, jobs: list[Job], r: VariantRun, idx: list[int]) -> None:
    res.dates.append(DateScore(name, len(idx), sum(1 for i in idx if r.outputs[i]["date"]),
                               sum(1 for i in idx if date_ok(r.outputs[i]["date"], jobs[i].gt_date))))


def _fields(jobs: list[Job], runs: dict[str, VariantRun], idx: list[int], names: tuple[str, ...]) -> list[FieldScore]:
    """Title, authors and date right, per page set, on the pages Fundus has a parser for."""
    out: list[FieldScore] = []
    idx = sorted(set(idx))
    checks = (("title", "gt_title", title_ok), ("authors", "gt_authors", authors_ok), ("date (±1 day)", "gt_date", date_ok))
    for set_name in sorted({jobs[i].page_set for i in idx}):
        in_set = [i for i in idx if jobs[i].page_set == set_name]
        for label, attr, ok in checks:
            key = label.split()[0]
            have = [i for i in in_set if getattr(jobs[i], attr)]
            if have:
                out.append(FieldScore(set_name, label, len(have),
                                      {n: sum(1 for i in have if ok(runs[n].outputs[i][key], getattr(jobs[i], attr)))
                                       for n in names}))
    return out
