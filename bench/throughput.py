"""Section 1: crawl → extract → enrich → index throughput against the ceiling and news-please.

All three runs read the same pages (``news-pages/``) in one session:
- ceiling: the pipeline's extraction function (:func:`crawler.extract.extract_article`, the
  configured mode) over the page bytes in a 2-process pool, no network, no index. Also
  measured: extraction + enrichment (:func:`crawler.worker.process_page`) and plain
  ``trafilatura.extract()``.
- DealWatch: ``python -m crawler.crawl_process`` over the local multi-host site (:mod:`demo_sites.bench_site`):
  discovery through feeds, sitemaps and section pages, download, WARC, extraction and
  enrichment in the worker pool, bulk indexing into a ``bench-tp-`` index.
- news-please: ``NewsPlease.from_url`` over the same article URLs in 2 processes, articles
  stored as JSON files (:mod:`bench.newsplease_worker`, in its own venv).
CPU is the process tree's user+system time (the Elasticsearch node's own CPU is reported
apart, from its node stats).
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench import newsplease_env
from bench.corpus import NewsPage
from bench.measure import Stopwatch, TreeCPU, Usage
from demo_sites.bench_site import LocalSite, SiteLayout
from dealwatch.settings import REPO_ROOT, Settings
from indexer.client import make_client

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    name: str
    pages: int                  # pages offered
    stored: int                 # articles that came out
    usage: Usage
    es_cpu: float = 0.0         # CPU seconds of the Elasticsearch node during the run
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Pages per second (pages offered / wall time)."""
        return self.pages / self.usage.wall if self.usage.wall else 0.0


# ----------------------------------------------------------------------------- ceiling
_pages: tuple[NewsPage, ...] = ()
_urls: tuple[str, ...] = ()
_settings: Settings | None = None


def _extract_only(i: int) -> bool:
    from crawler.extract import Dropped, extract_article
    s = _settings
    article = extract_article(_pages[i].html, _urls[i], "bench", "", mode=s.extraction_mode,
                              min_text_chars=s.min_text_chars)
    return not isinstance(article, Dropped)


def _extract_and_enrich(i: int) -> bool:
    from crawler.worker import PageTask, process_page
    return process_page(PageTask(_urls[i], _pages[i].html, "bench"), _settings).doc is not None


def _plain_trafilatura(i: int) -> bool:
    import trafilatura
    return bool(trafilatura.extract(_pages[i].html, url=_urls[i]))


def _warm(args: tuple[str, int]) -> None:
    """One extraction of a page per worker before the clock starts (imports, lazy tables)."""
    kind, i = args
    CEILINGS[kind](i)


CEILINGS = {
    "extract_article": _extract_only,
    "extract + enrich": _extract_and_enrich,
    "trafilatura.extract()": _plain_trafilatura,
}


def ceiling(pages: tuple[NewsPage, ...], layout: SiteLayout, settings: Settings, kind: str = "extract_article",
            workers: int = 2) -> RunResult:
    """In-process extraction of every page over ``workers`` forked processes."""
    global _pages, _urls, _settings
    _pages, _urls, _settings = pages, layout.article_urls, settings
    func = CEILINGS[kind]
    ctx = mp.get_context("fork")
    with ctx.Pool(workers) as pool:
        pool.map(_warm, [(kind, i % len(pages)) for i in range(workers * 2)], chunksize=1)
        procs = [psutil.Process(p.pid) for p in pool._pool]  # the live workers, to read their CPU time
        cpu_before = sum(_cpu(p) for p in procs)
        start = time.perf_counter()
        ok = sum(pool.imap_unordered(func, range(len(pages)), chunksize=4))
        wall = time.perf_counter() - start
        cpu = sum(_cpu(p) for p in procs) - cpu_before
    return RunResult(f"ceiling: {kind}", len(pages), ok, Usage(wall, cpu))


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


# ----------------------------------------------------------------------------- DealWatch
def es_pid(settings: Settings) -> int | None:
    """The local Elasticsearch node's process id (None for a remote node: its memory is not ours to read)."""
    es = make_client(settings)
    info = es.nodes.info(node_id="_local", metric="process")
    node = next(iter(info["nodes"].values()))
    pid = int(node.get("process", {}).get("id") or 0)
    return pid if pid and psutil.pid_exists(pid) else None


def es_cpu_seconds(settings: Settings) -> float:
    es = make_client(settings)
    stats = es.nodes.stats(node_id="_local", metric="process")
    node = next(iter(stats["nodes"].values()))
    return node["process"]["cpu"]["total_in_millis"] / 1000


def pipeline(layout: SiteLayout, settings: Settings, workdir: Path, timeout: float = 3600) -> RunResult:
    """One crawl of every source of the site in one Scrapy process, into ``bench-tp-``."""
    from indexer import store
    prefix = f"{settings.index_prefix}bench-tp-"
    s = settings.replace(index_prefix=prefix, data_dir=workdir / "data")
    es = make_client(s)
    store.drop_all(es, s)
    shutil.rmtree(s.data_dir, ignore_errors=True)
    s.data_dir.mkdir(parents=True)
    sources_file = workdir / "bench-sources.yaml"
    names = layout.write_sources(sources_file)
    stats_file = workdir / "crawl-stats.json"
    stats_file.unlink(missing_ok=True)
    env = {**os.environ, **s.replace(sources_file=sources_file).as_environment()}
    cmd = [sys.executable, "-m", "crawler.crawl_process", "--sources", ",".join(names), "--sources-file", str(sources_file),
           "--stats-file", str(stats_file)]
    try:
        return _measure_crawl(cmd, env, es, s, settings, layout, workdir, stats_file, timeout)
    finally:  # a crawl that failed half-way leaves no bench index behind either
        try:
            store.drop_all(es, s)
        except Exception as exc:  # noqa: BLE001 - the node may be the reason the crawl failed
            log.warning("could not drop the %s indices: %s", s.index_prefix, exc)


def _measure_crawl(cmd, env, es, s, settings, layout, workdir, stats_file, timeout) -> RunResult:
    from indexer import store
    log.info("pipeline: %s", " ".join(cmd))
    es_before = es_cpu_seconds(settings)
    log_file = workdir / "crawl.log"
    with Stopwatch() as sw, open(log_file, "w", encoding="utf-8") as log_fh:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log_fh, stderr=subprocess.STDOUT, text=True)
        node_pid = es_pid(settings)
        with TreeCPU(proc.pid, extra={"elasticsearch": node_pid} if node_pid else None) as tree:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise
    es_cpu = es_cpu_seconds(settings) - es_before
    if proc.returncode != 0:
        log.error("crawl exited with %d; see %s", proc.returncode, log_file)
    stored = store.count(es, s) if es.indices.exists_alias(name=s.articles_alias) else 0
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    # Worker processes forked by a fork server are not always waited for by the crawl process, so
    # getrusage can miss them; the sampled process tree sees every descendant while it lives.
    split = tree.split()
    usage = Usage(sw.usage.wall, max(sw.usage.cpu, split["main"] + split["children"]))
    processes = tree.by_role()
    processes["elasticsearch"] = {"processes": 1, "cpu": es_cpu, "peak_rss": tree.extra_rss.get("elasticsearch", 0)}
    result = RunResult("DealWatch crawl", len(layout.article_urls), stored, usage, es_cpu,
                       {"returncode": proc.returncode, "stats": _stats_summary(stats), "command": " ".join(cmd),
                        "cpu_split": split, "processes": processes})
    return result


def _stats_summary(stats: dict[str, Any]) -> dict[str, Any]:
    """Totals over the sources of the crawl's stats file (whatever numeric counters it holds)."""
    totals: dict[str, float] = {}
    for src in (stats.get("sources") or {}).values():
        for k, v in src.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                totals[k] = totals.get(k, 0) + v
            elif isinstance(v, dict):
                for k2, v2 in v.items():
                    if isinstance(v2, (int, float)) and not isinstance(v2, bool):
                        totals[f"{k}.{k2}"] = totals.get(f"{k}.{k2}", 0) + v2
    return totals or {k: v for k, v in stats.items() if isinstance(v, (int, float))}


# ----------------------------------------------------------------------------- news-please
def newsplease(layout: SiteLayout, workdir: Path, workers: int = 2, timeout: float = 3600) -> RunResult:
    python = newsplease_env.ensure_venv()
    urls_file = workdir / "np-urls.txt"
    urls_file.write_text("\n".join(layout.article_urls) + "\n", encoding="utf-8")
    out_dir = workdir / "np-store"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    cmd = [str(python), str(Path(__file__).with_name("newsplease_worker.py")), str(urls_file), str(out_dir),
           str(workers)]
    with Stopwatch() as sw:
        proc = subprocess.run(cmd, timeout=timeout, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"news-please run failed ({proc.returncode}): {proc.stderr[-1500:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    return RunResult("news-please", len(layout.article_urls), summary["stored"], sw.usage,
                     notes={"version": newsplease_env.newsplease_version(python), "errors": summary["errors"]})


# ----------------------------------------------------------------------------- the section
def run(pages: tuple[NewsPage, ...], layout: SiteLayout, settings: Settings, workdir: Path,
        with_newsplease: bool = True) -> list[RunResult]:
    """Ceiling, crawl, extract+enrich, news-please, ceiling again: the two ceiling runs bracket
    the others, so a change of the machine's load during the session shows (and averages)."""
    results: list[RunResult] = []

    def step(result: RunResult) -> None:
        results.append(result)
        log.info("%s: %.1f pages/s (%.0f CPU ms/page)", result.name, result.rate,
                 1000 * result.usage.cpu / max(1, result.pages))

    with LocalSite(layout):
        step(ceiling(pages, layout, settings, "extract_article"))
        step(pipeline(layout, settings, workdir))
        step(ceiling(pages, layout, settings, "extract + enrich"))
        if with_newsplease:
            step(newsplease(layout, workdir))
        again = ceiling(pages, layout, settings, "extract_article")
        again.name += " (again)"
        step(again)
    return results


# ----------------------------------------------------------------------------- profile
def profile_cpu_stage(pages: tuple[NewsPage, ...], layout: SiteLayout, settings: Settings, n: int = 150,
                      top: int = 18) -> str:
    """cProfile of the worker's CPU stage (``process_page``) over ``n`` pages, in-process.

    Returns the top functions by cumulative time: where a page's CPU goes (HTML parsing,
    trafilatura's extraction and its date search, language detection, enrichment)."""
    import cProfile
    import io
    import pstats

    from crawler.worker import PageTask, process_page
    step = max(1, len(pages) // n)
    sample = list(range(0, len(pages), step))[:n]
    start = time.perf_counter()
    for i in sample:  # cold pass: imports, seeds, per-language dictionaries loaded on first use
        process_page(PageTask(layout.article_urls[i], pages[i].html, "bench"), settings)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    prof = cProfile.Profile()
    prof.enable()
    for i in sample:
        process_page(PageTask(layout.article_urls[i], pages[i].html, "bench"), settings)
    prof.disable()
    warm = time.perf_counter() - start
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next((k for k, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    header = next((line for line in lines if "function calls" in line), "").strip()
    body = [_short_path(line) for line in lines[start:]]
    return (f"{len(sample)} pages, one process: first pass {cold:.1f} s (one-off loads included), second pass "
            f"{warm:.1f} s under the profiler (profiled below); {header}\n" + "\n".join(body))


def _short_path(line: str) -> str:
    import re
    return re.sub(r"\S*/site-packages/", "", line.replace(str(REPO_ROOT) + "/", ""))
