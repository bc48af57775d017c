"""Each benchmark section: run it, print its table, return its BENCHMARKS.md text.

A :class:`Context` carries what every section needs (settings, client, sizes, work
directory, the command line that was run). Index names are ``<prefix>bench-<label>-…``
so a run never touches the archive of the default prefix.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from elasticsearch import Elasticsearch

from bench import report
from bench.measure import load_average
from dealwatch.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)


@dataclass
class Context:
    settings: Settings
    es: Elasticsearch
    smoke: bool
    workdir: Path
    command: str
    with_newsplease: bool = True
    keep_archives: bool = False
    facts: dict[str, str] = field(default_factory=dict)

    def label(self, name: str) -> Settings:
        """Settings whose prefix is ``<prefix>bench-<name>-``."""
        return self.settings.replace(index_prefix=f"{self.settings.index_prefix}bench-{name}-")

    def stamp(self) -> str:
        return (f"Measured {self.facts.get('date', '?')}, load average {load_average()} at the end of the "
                f"section. Command: `{self.command}`.")


def _echo(title: str, text: str) -> None:
    click.echo(f"\n{title}\n{text}\n")


def _pct(x: float) -> str:
    return f"{x * 100:.0f} %"


# ----------------------------------------------------------------------------- 1. throughput
def throughput(ctx: Context) -> str:
    from bench import throughput as tp
    from bench.corpus import news_pages, spread
    from demo_sites.bench_site import build_layout

    pages = news_pages()
    if ctx.smoke:
        pages = spread(pages, 24)
    n_hosts = 2 if ctx.smoke else 4
    layout = build_layout([(p.html, p.title) for p in pages], n_hosts=n_hosts)
    with_np = ctx.with_newsplease and (not ctx.smoke or _np_ready())
    results = tp.run(pages, layout, ctx.settings, ctx.workdir, with_newsplease=with_np)
    rows = [(r.name, r.pages, r.stored, r.usage.wall, r.rate, r.usage.cpu, r.usage.cores_busy,
             r.es_cpu or "") for r in results]
    headers = ["run", "pages", "articles out", "wall s", "pages/s", "CPU s", "cores busy", "ES node CPU s"]
    tbl = report.table(headers, rows)
    by = {r.name: r for r in results}
    ceiling = _mean_run(by.get("ceiling: extract_article"), by.get("ceiling: extract_article (again)"))
    crawl = by.get("DealWatch crawl")
    npl = by.get("news-please")
    ratio_c = crawl.rate / ceiling.rate if crawl and ceiling else None
    ratio_np = crawl.rate / npl.rate if crawl and npl else None
    headline = []
    if crawl:
        headline.append(f"DealWatch crawl {crawl.rate:.1f} pages/s")
    if ratio_c is not None:
        headline.append(f"{ratio_c:.2f} × the extraction ceiling (target ≥ {TARGET_CEILING}: "
                        f"{'met' if ratio_c >= TARGET_CEILING else 'missed'})")
    if ratio_np is not None:
        headline.append(f"{ratio_np:.1f} × news-please (target ≥ {TARGET_NEWSPLEASE}: "
                        f"{'met' if ratio_np >= TARGET_NEWSPLEASE else 'missed'})")
    procs = crawl.notes.get("processes") if crawl else None
    if procs:
        total_ms = 1000 * sum(v["cpu"] for k, v in procs.items() if k != "elasticsearch") / crawl.pages
        headline.append(f"{total_ms:.0f} CPU ms/page (target ≤ {TARGET_CPU_MS}: {'met' if total_ms <= TARGET_CPU_MS else 'missed'})")
        for role, limit in TARGET_RSS_MB.items():
            if role in procs:
                mb = procs[role]["peak_rss"] / 2**20
                headline.append(f"{role} {mb:.0f} MB (target ≤ {limit}: {'met' if mb <= limit else 'missed'})")
    _echo("1. Throughput", tbl)
    body = [f"**Headline:** {'; '.join(headline) or 'crawl not measured'}.", "", ctx.stamp(), "",
            f"{len(pages):,} real pages of `news-pages/` served by a local site (`demo_sites/bench_site.py`) on {n_hosts} "
            f"loopback hosts ({', '.join(layout.hosts)}, port {layout.port}), each with a home page, paginated "
            "section pages, an RSS feed and a sitemap. All runs read the same pages in the same session.", "",
            tbl, ""]
    body += ["- **ceiling: extract_article**: the pipeline's extraction function "
             "(`crawler.extract.extract_article`, configured mode "
             f"`{ctx.settings.extraction_mode}`) over the page bytes in a 2-process pool, "
             "nothing else: the limit of this pipeline on this machine.",
             "- **ceiling: extract + enrich**: `crawler.worker.process_page` (extraction + `indexer.documents.enriched_document`, "
             "the whole CPU stage of the crawl), same pool.",
             "- The extract_article ceiling runs first and again last (\"again\"), bracketing the others; the "
             "ratios use both runs together.",
             "- **DealWatch crawl**: `python -m crawler.crawl_process` over all sources of the site in one Scrapy process "
             "(discovery via feeds, sitemaps and sections; download; WARC; extraction + enrichment in the worker "
             "pool; bulk indexing into a `bench-tp-` index). Wall time includes process start and shutdown. CPU = the "
             "crawl process and its workers; the Elasticsearch node's CPU is shown apart."]
    if crawl:
        if procs:
            body += ["", "Per process of the crawl (CPU sampled every 0.25 s from the process tree; the "
                     "Elasticsearch node's CPU from its node stats; RSS: the largest peak of one process of the row):",
                     "", process_table(procs, crawl.pages), ""]
        body.append(f"  Crawl stats: {crawl.notes.get('stats')}; exit code {crawl.notes.get('returncode')}. "
                    f"Command: `{crawl.notes.get('command', '').replace(str(ctx.workdir), '$WORKDIR')}`.")
    if npl:
        body.append(f"- **news-please** {npl.notes.get('version')}: `NewsPlease.from_url()` over the same "
                    "article URLs (no discovery: it is given the list), 2 processes, each article written as JSON "
                    "to a file tree like news-please's file storage (`bench/newsplease_worker.py`, in its own venv "
                    f"`/tmp/dealwatch-bench/np-venv`). Failures: {npl.notes.get('errors')}.")
    if ratio_c is not None:
        body += ["", f"Ratios (wall-clock pages/s, same session): DealWatch / ceiling = **{ratio_c:.2f}** "
                 f"(target ≥ {TARGET_CEILING})"
                 + (f"; DealWatch / news-please = **{ratio_np:.1f}** (target ≥ {TARGET_NEWSPLEASE})" if ratio_np else "")
                 + (f"; DealWatch / (extract + enrich) = {crawl.rate / by['ceiling: extract + enrich'].rate:.2f}"
                    if "ceiling: extract + enrich" in by else "") + "."]
        def per_page(r) -> float:
            return r.usage.cpu / r.pages if r and r.pages else 0.0
        if crawl and per_page(crawl) and per_page(ceiling):
            eff = per_page(ceiling) / per_page(crawl)
            line = (f"CPU per page (less sensitive to the other load on this shared machine): ceiling "
                    f"{per_page(ceiling) * 1000:.0f} ms, DealWatch crawl {per_page(crawl) * 1000:.0f} ms "
                    f"(+ {crawl.es_cpu / crawl.pages * 1000:.0f} ms in the Elasticsearch node)")
            if npl and per_page(npl):
                line += (f", news-please {per_page(npl) * 1000:.0f} ms (DealWatch uses "
                         f"{per_page(npl) / per_page(crawl):.1f}× less CPU per page than news-please)")
            body += ["", line + f"; ceiling / DealWatch CPU efficiency = **{eff:.2f}**."]
    if crawl and not ctx.smoke:
        try:
            prof = tp.profile_cpu_stage(pages, layout, ctx.settings)
            body += ["", "Profile of the CPU stage (`crawler.worker.process_page`: extraction + enrichment, "
                     "cProfile, in-process, cumulative time):", "", "```", prof, "```"]
        except Exception as exc:  # the profile is an explanation, not a measurement: report and go on
            log.warning("profile failed: %s", exc)
    return "\n".join(body)


# issue 13's targets for the crawl (wall-clock ratios in one run; CPU per page of the crawl
# process and its workers; resident memory of one process)
TARGET_CEILING = 0.6
TARGET_NEWSPLEASE = 3.5
TARGET_CPU_MS = 38
TARGET_RSS_MB = {"crawl process": 300, "workers": 400}


def process_table(procs: dict, pages: int) -> str:
    """The crawl's CPU ms/page and peak RSS per process role (bench.measure.TreeCPU.by_role)."""
    rows = [(role, int(v["processes"]), v["cpu"], 1000 * v["cpu"] / max(1, pages), v["peak_rss"] / 2**20)
            for role, v in procs.items()]
    own = [v for k, v in procs.items() if k != "elasticsearch"]
    rows.append(("crawl total (without Elasticsearch)", sum(int(v["processes"]) for v in own),
                 sum(v["cpu"] for v in own), 1000 * sum(v["cpu"] for v in own) / max(1, pages), ""))
    return report.table(["process", "processes", "CPU s", "CPU ms/page", "peak RSS MB (one process)"], rows)


def _mean_run(a, b):
    """The two bracketing ceiling runs as one (pages and times summed)."""
    if a is None or b is None:
        return a or b
    from bench.measure import Usage
    from bench.throughput import RunResult
    return RunResult("ceiling: extract_article (both runs)", a.pages + b.pages, a.stored + b.stored,
                     Usage(a.usage.wall + b.usage.wall, a.usage.cpu + b.usage.cpu))


def _np_ready() -> bool:
    from bench.newsplease_env import DEFAULT_VENV, venv_python
    return venv_python(DEFAULT_VENV).exists()


# ----------------------------------------------------------------------------- 2. indexing
def _generator(ctx: Context):
    from bench.archive import ArchiveGenerator, base_texts, watchlist_entities
    texts = base_texts(ctx.workdir, smoke=ctx.smoke)
    return ArchiveGenerator(texts, watchlist_entities(ctx.settings))


def indexing(ctx: Context) -> str:
    from bench import indexing as ix
    gen = _generator(ctx)
    docs = 200 if ctx.smoke else 10_000
    chunks = (50, 200) if ctx.smoke else (250, 1000, 2000)
    trials = ix.run_trials(ctx.es, ctx.settings, gen, docs, chunks)
    best = max((t for t in trials if t.path == "bulk"), key=lambda t: t.rate)
    store_trial = next((t for t in trials if t.path == "store"), None)
    tbl = report.table(["write path", "chunk size", "refresh_interval", "client threads", "docs", "seconds",
                        "docs/s", "failed"],
                       [(t.path, t.chunk_size, t.refresh, t.threads, t.docs, t.seconds, t.rate, t.failed)
                        for t in trials])
    _echo("2. Indexing", tbl)
    headline = (f"best {best.rate:,.0f} docs/s (chunk {best.chunk_size}, refresh {best.refresh}, "
                f"{best.threads} client thread{'s' if best.threads > 1 else ''})"
                + (f"; the pipeline's own write path (`store.write_documents`, chunk {store_trial.chunk_size}) "
                   f"{store_trial.rate:,.0f} docs/s" if store_trial else ""))
    avg_kb = sum(len(str(d)) for d in gen.documents(200, first=10_000_000)) / 200 / 1024
    return "\n".join([
        f"**Headline:** {headline}.", "", ctx.stamp(), "",
        f"{docs:,} enriched documents per trial (from the archive generator, `bench/archive.py`: real texts with "
        f"lemmas, entities and relevance, about {avg_kb:.0f} KiB of JSON each), each trial into a fresh index "
        "with the project's mapping (`indexer/schema.py`, 1 shard, 0 replicas), refreshed at the end; the time "
        "includes that refresh. `bulk` = `elasticsearch.helpers.streaming_bulk` (or `parallel_bulk` with 2 "
        "threads); `store` = `indexer.store.write_documents` (mget of earlier versions, then bulk), what the "
        "crawler calls through the archive's `write` in batches.", "", tbl, "",
        _indexing_reading(trials),
    ])


def _indexing_reading(trials) -> str:
    bulk = [t for t in trials if t.path == "bulk" and t.threads == 1]
    by_chunk: dict[int, float] = {}
    for t in bulk:
        by_chunk[t.chunk_size] = max(by_chunk.get(t.chunk_size, 0.0), t.rate)
    best_chunk = max(by_chunk, key=by_chunk.get)
    off = [t.rate for t in bulk if t.refresh == "-1"]
    on = [t.rate for t in bulk if t.refresh == "1s"]
    gain = (sum(off) / len(off)) / (sum(on) / len(on)) - 1 if off and on else 0.0
    return (f"Reading: with one client thread the best chunk size was {best_chunk:,} documents; "
            f"`refresh_interval: -1` changed the rate by {gain * 100:+.0f} % on average over 1 s. The archive loads "
            "of section 3 use chunks of 1,000, refresh off and 2 client threads, then restore 1 s. The node (1 GiB "
            "heap) and the client share the 2 cores, so both sides are CPU-bound and the machine's other load "
            "moves these figures.")


# ----------------------------------------------------------------------------- 3. search
def _archives(ctx: Context) -> list[tuple[str, int]]:
    return [("smoke", 1_000)] if ctx.smoke else [("100k", 100_000), ("1m", 1_000_000)]


def search(ctx: Context) -> str:
    from bench import indexing as ix
    from bench import search as sb
    gen = _generator(ctx)
    loads, lats, notes = [], [], []
    for label, n in _archives(ctx):
        load = ix.ensure_archive(ctx.es, ctx.settings, gen, n, label)
        loads.append(load)
        s = ctx.label(label)
        lats += sb.measure(ctx.es, s, label, load.docs, rounds=2 if ctx.smoke else 8)
        unknown = [e for e in sb.top_entities(ctx.es, s) if e not in _watchlist_ids(ctx.settings)]
        if unknown:
            notes.append(f"The {label} archive's entity ids ({', '.join(unknown[:3])}, …) are not ids of the "
                         "current `seeds/watchlist.yaml` (it was generated before the watchlist landed), so each "
                         "API call there makes one more Elasticsearch request to label the entity facet; the raw "
                         "ES column includes that request too.")
    load_tbl = report.table(["archive", "documents", "loaded in this run", "load docs/s", "size on disk",
                             "per 1,000 articles"],
                            [(l.label, l.docs, l.loaded_now, l.rate if l.loaded_now else "(already loaded)",
                              f"{l.store_bytes / 2**30:.2f} GiB", f"{l.bytes_per_1000 / 2**20:.1f} MiB")
                             for l in loads])
    rows = sb.as_rows(lats)
    lat_tbl = report.table(["archive", "query", "requests", "total hits", "raw ES p50", "p95", "p99",
                            "library p50", "p95", "API p50", "p95", "p99", "app overhead (p50 diff)"],
                           [(r["archive"], r["query"], r["n"], r["hits"], _ms(r["raw_p50"]), _ms(r["raw_p95"]),
                             _ms(r["raw_p99"]), _ms(r["lib_p50"]), _ms(r["lib_p95"]), _ms(r["api_p50"]),
                             _ms(r["api_p95"]), _ms(r["api_p99"]), _ms(r["overhead_p50"])) for r in rows])
    big_load = max(loads, key=lambda l: l.docs)
    levels = sb.measure_concurrency(ctx.es, ctx.label(big_load.label), big_load.label, smoke=ctx.smoke)
    conc_tbl = report.table(["archive", "clients", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "requests/s"],
                            [(l.archive, l.clients, len(l.ms) + sum(l.errors.values()),
                              ", ".join(f"{k} {v}" for k, v in l.errors.items()) or "0",
                              _ms(l.p(50)), _ms(l.p(95)), _ms(l.p(99)), f"{l.throughput:.1f}") for l in levels])
    _echo("3. Search", load_tbl + "\n\n" + lat_tbl + "\n\n" + conc_tbl)
    big = big_load.label
    big_rows = [r for r in rows if r["archive"] == big]
    worst_p95 = max(r["api_p95"] for r in big_rows)
    worst_over = max(r["overhead_p50"] for r in big_rows)
    at16 = next((l for l in levels if l.clients == 16), None)
    conc = (f"; with 16 concurrent clients API p95 {at16.p(95):.0f} ms (target ≤ 150: "
            f"{'met' if at16.p(95) <= 150 and not at16.errors else 'missed'}), {sum(at16.errors.values())} errors"
            if at16 else "")
    headline = (f"at {max(l.docs for l in loads):,} documents the slowest query type has API p95 "
                f"{worst_p95:.0f} ms one request at a time (target ≤ 150: "
                f"{'met' if worst_p95 <= 150 else 'missed'}){conc}; app overhead "
                f"≤ {worst_over:.1f} ms (target ≤ 10: {'met' if worst_over <= 10 else 'missed'}); index size "
                f"{loads[-1].bytes_per_1000 / 2**20:.1f} MiB per 1,000 articles")
    examples = "\n".join(f"- {k}: `{v}`" for k, v in sb.plan_examples().items())
    return "\n".join([
        f"**Headline:** {headline}.", "", ctx.stamp(), "",
        "Archives from the generator (`bench/archive.py`): each document takes a real text (the ground-truth "
        "bodies or trafilatura's text of the 2,175 `news-pages/`, and the topic set), appends 0–4 paragraphs "
        "of another text of the same language, and gets a date 2015–2026 (recent years weigh more), its page's "
        "site as source, watchlist entities (the topic texts keep theirs, 12 % of the others get one or two), "
        "a relevance score, and the lemmas of its paragraphs (simplemma). Loaded with `refresh_interval: -1`, "
        "0 replicas, chunks of 1,000, 2 client threads; not force-merged (an archive that grows is not).", "",
        load_tbl, "",
        "Queries (5 variants of each type, cycled; each variant warmed once, then "
        f"{2 if ctx.smoke else 8} rounds; all with `relevant=0`, i.e. over every article, the heavier case). "
        "Example of each:", "", examples, "",
        "**raw ES** = the time spent in Elasticsearch round trips by the requests one API call makes (the "
        "near-duplicate check `count`, the results page with highlight and facet aggregations from the one "
        "builder `indexer/query/`, entity labels when a facet id is not in the watchlist, and for the "
        "histogram query its two searches), measured by wrapping the Python client's transport while the same "
        "library calls run in the benchmark's process; **library** = those calls in-process including their "
        "Python (`Archive.search(...).as_dict()`, `Archive.histogram`); **API** = `GET /api/search` over HTTP to "
        "the app (`uvicorn --factory search_ui.app:create_app`, its own process). The app overhead is API − "
        "raw ES; library − raw ES is the part spent in the query layer's Python. In-process and API calls "
        "alternate request by request. Times in ms.", "", lat_tbl, "",
        f"**Concurrent clients** on the {big} archive: closed-loop clients (each sends its next request when its "
        "last one answered; own HTTP connection; every query type's variants mixed) against one app process "
        "(as `dealwatch ui` serves it) and the one local node, after a warm-up pass; "
        f"{40 if ctx.smoke else 320} requests per level. Errors: any answer other than 200, or a transport "
        "error (60 s timeout).", "", conc_tbl,
    ] + (["", *notes] if notes else []))


def _watchlist_ids(settings: Settings) -> set[str]:
    from indexer.query.labels import watchlist
    return set(watchlist(settings))


def _ms(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 10 else f"{v:.1f}"


# ----------------------------------------------------------------------------- 4. export
def export(ctx: Context) -> str:
    from bench import export as ex
    from bench import indexing as ix
    label, n = ("smoke", 1_000) if ctx.smoke else ("100k", 100_000)
    ix.ensure_archive(ctx.es, ctx.settings, _generator(ctx), n, label)
    sizes = (100, 1_000) if ctx.smoke else (10_000, 100_000)
    runs = ex.measure(ctx.es, ctx.label(label), sizes)
    full = ex.measure(ctx.es, ctx.label(label), sizes, fields="title,text,evidence")
    tbl = report.table(["rows asked", "parameters", "rows", "MB", "time to first byte s", "seconds", "rows/s",
                        "app RSS idle MB", "app RSS peak MB"],
                       [(r.rows_wanted, "&".join(f"{k}={v}" for k, v in r.params), r.rows, r.bytes / 1e6, r.ttfb,
                         r.seconds, r.rows_per_s, r.idle_rss / 2**20, r.peak_rss / 2**20) for r in runs + full])
    _echo("4. Export", tbl)
    small, large = runs[0], runs[-1]
    full_growth = full[-1].peak_rss / full[0].peak_rss - 1 if full[0].peak_rss else 0.0
    growth = large.peak_rss / small.peak_rss - 1 if small.peak_rss else 0.0
    big = full[-1]
    peak = max(r.peak_rss for r in runs + full) / 2**20
    headline = (f"with the full text (fields=title,text,evidence) {big.rows:,} rows at {big.rows_per_s:,.0f} rows/s "
                f"(target ≥ 20,000: {'met' if big.rows_per_s >= 20_000 else 'missed'}); the default columns "
                f"{large.rows_per_s:,.0f} rows/s; first byte after {large.ttfb:.2f} s; app peak RSS at most "
                f"{peak:.0f} MB (target ≤ 250: {'met' if peak <= 250 else 'missed'}), flat: {large.peak_rss / 2**20:.0f} "
                f"MB for {large.rows:,} rows vs {small.peak_rss / 2**20:.0f} MB for {small.rows:,} "
                f"({growth * 100:+.0f} %), with the text {big.peak_rss / 2**20:.0f} vs {full[0].peak_rss / 2**20:.0f} MB "
                f"({full_growth * 100:+.0f} %)")
    return "\n".join([
        f"**Headline:** {headline}.", "", ctx.stamp(), "",
        f"`GET /export.csv` on the {label} archive, read with a streaming HTTP client; each export in a fresh "
        "app process (uvicorn, `search_ui.app:create_app`), whose resident memory (with its children) is sampled "
        "every 20 ms. The export reads a point in time page by page (`indexer/export.py`, 500 hits a page, "
        "search_after), so rows leave as they are read. Rows are counted by parsing the CSV.", "", tbl,
    ])


# ----------------------------------------------------------------------------- 5. extraction
def extraction(ctx: Context) -> str:
    from bench import extraction as xb
    mode = ctx.settings.extraction_mode
    res = xb.run(mode, smoke=ctx.smoke)
    headers = ["extractor", "pages", "precision", "recall", "F1", "seconds (2 processes)", "CPU ms/page"]
    t1 = report.table(headers, [(s.name, s.pages, s.precision, s.recall, s.f1, s.seconds or "", s.cpu_ms)
                                for s in res.benchmark])
    t2 = report.table(["page set", "extractor", "pages", "precision", "recall", "F1", "CPU ms/page"],
                      [(s.page_set, s.name, s.pages, s.precision, s.recall, s.f1, s.cpu_ms) for s in res.news])
    t3 = report.table(["set", "pages", "with a date", "coverage", "within ±1 day of gt_date"],
                      [(d.name, d.pages, d.found, _pct(d.coverage),
                        _pct(d.accuracy) if d.accuracy is not None else "(no dates in the ground truth)")
                       for d in res.dates])
    tables = [t1, t2, t3]
    fundus_part = _fundus_part(res, tables)
    _echo("5. Extraction", "\n\n".join(tables))
    conf = res.benchmark[0]
    plain = next(s for s in res.benchmark if s.name == "trafilatura.extract() default")
    best_pipe = max((s for s in res.benchmark if s.name.startswith("pipeline")), key=lambda s: s.f1)
    configured_news = [s for s in res.news if s.name == conf.name]
    recommend = ""
    if best_pipe is not conf and best_pipe.f1 > conf.f1 + 0.005 and all(
            b.f1 >= c.f1 for c in configured_news for b in res.news if b.name == best_pipe.name
            and b.page_set == c.page_set):
        rec_mode = best_pipe.name.split("mode=")[1].split(")")[0]
        recommend = (f" Recommended: `extraction_mode = \"{rec_mode}\"` (F1 {best_pipe.f1:.3f} vs {conf.f1:.3f} on "
                     "the benchmark, not lower on the news pages).")
    if not recommend:
        close = [s for s in res.benchmark if s.name.startswith("pipeline") and s is not conf
                 and s.f1 >= conf.f1 - 0.005 and s.seconds < 0.75 * conf.seconds]
        if close:
            fastest = min(close, key=lambda s: s.seconds)
            fmode = fastest.name.split("mode=")[1].split(")")[0]
            recommend = (f" No mode is clearly more accurate; `{fmode}` keeps F1 ({fastest.f1:.3f}) in "
                         f"{fastest.seconds / conf.seconds * 100:.0f} % of the time, the lever if the crawl is "
                         "CPU-bound (timings on a shared machine: indicative).")
    headline = (f"the pipeline stores text with F1 {conf.f1:.3f} vs {plain.f1:.3f} for plain trafilatura "
                f"(mode `{mode}`);{recommend}")
    dates = "; ".join(f"{d.name}: {_pct(d.coverage)} with a date"
                      + (f", {_pct(d.accuracy)} within ±1 day" if d.accuracy is not None else "") for d in res.dates)
    return "\n".join([
        f"**Headline:** {headline} {fundus_part[0]}Dates: {dates}.", "", ctx.stamp(), "",
        "Metric as in the benchmark's own `evaluate.py`: `\\w+` tokens, bags of 4-token shingles, per-page tp/fp/fn "
        "normalised, precision and recall averaged over pages, F1 of the two averages. The pipeline variants are "
        "`crawler.extract.extract_article` in each mode with `fundus_extraction` off (`min_text_chars=1`, so a short "
        "page is scored, not dropped); `trafilatura.extract()` variants are trafilatura called directly. CPU ms/page: "
        "CPU time of the extraction call in its worker process, averaged over the pages (less sensitive to the "
        "machine's other load than the wall seconds).", "",
        f"**Extraction benchmark** (`extraction-benchmark/`, {res.benchmark[0].pages} pages, mostly English, 2019):",
        "", t1, "",
        "**News pages with a full ground-truth body**, per page set (`news-pages/`: `fundus-*` 41 languages, "
        "`irdata-*` English; the `fundus-*` pages are Fundus' own test pages, so its score there is optimistic):", "",
        t2, "", "**Publication dates** found by the pipeline (configured mode):", "", t3,
        *fundus_part[1],
    ])


def _fundus_part(res, tables: list[str]) -> tuple[str, list[str]]:
    """The Fundus tables and the headline sentence about them (empty when Fundus was not measured)."""
    from bench import extraction as xb
    if res.fundus_skipped:
        return "", ["", f"Fundus not measured in this run: {res.fundus_skipped}."]
    conf = res.benchmark[0].name
    short = {conf: "pipeline", xb.FUNDUS_ALONE: "Fundus alone", xb.WITH_FUNDUS: "extract_article + Fundus"}
    sup_rows = []
    for row in res.supported:
        by = {s.name: s for s in row.scores}
        sup_rows.append((row.page_set, row.pages, row.supported, row.used,
                         *(by[n].f1 if n in by else "" for n in short),
                         *(by[n].cpu_ms if n in by else "" for n in (conf, xb.WITH_FUNDUS))))
    t4 = report.table(["page set", "pages", "with a Fundus parser", "Fundus text kept", "F1 pipeline",
                       "F1 Fundus alone", "F1 extract_article + Fundus", "CPU ms/page pipeline",
                       "CPU ms/page + Fundus"], sup_rows)
    t5 = report.table(["page set", "field", "pages with it in the truth", *short.values()],
                      [(f.page_set, f.field, f.pages, *(_pct(f.correct[n] / f.pages) for n in short))
                       for f in res.fields])
    tables += [t4, t5]
    versions = ", ".join(f"{k} {v}" for k, v in res.fundus_versions.items())
    parts = []
    for row in res.supported:
        by = {s.name: s for s in row.scores}
        if conf in by and xb.WITH_FUNDUS in by:
            own = ", Fundus' own test pages" if row.page_set == "fundus-*" else ""
            parts.append(f"{row.page_set} {by[conf].f1:.3f} → {by[xb.WITH_FUNDUS].f1:.3f} ({row.supported} pages, "
                         f"its text kept on {row.used}{own})")
    sentence = (f"With `fundus_extraction` on, F1 on the pages Fundus has a parser for: {'; '.join(parts)}. "
                if parts else "")
    body = ["", f"**Fundus** ({versions}, in its own venv `/tmp/dealwatch-bench/fundus-venv`: its `lxml<6` pin "
            "clashes with trafilatura's `lxml>=6.1`). Only the pages whose publisher Fundus has a parser for "
            "(chosen by host, as `crawler/fundus_extract.py` does); \"Fundus text kept\" = pages where "
            "`extract_article` with `fundus_extraction` on keeps Fundus' text (at least "
            "`FUNDUS_MIN_TEXT_CHARS`), the others fall back to trafilatura. CPU of \"+ Fundus\" = Fundus' parser plus "
            "`trafilatura.extract_metadata` where its text is kept, Fundus plus the pipeline where it is not:", "", t4,
            "", "**Title, authors and date** on the pages with a Fundus parser whose ground truth has the field "
            "(title: equal after whitespace and case folding; authors: the same set of names; date: within ±1 day):",
            "", t5]
    return sentence, body


# ----------------------------------------------------------------------------- 6. backfill
def backfill(ctx: Context) -> str:
    from bench import backfill as bf
    from bench.corpus import news_pages, spread

    news = news_pages()
    demo = bf.demo_news_pages()
    if ctx.smoke:
        news, demo = spread(news, 30), demo[:10]
    pages = bf.mix(news, demo)
    with_np = ctx.with_newsplease and (not ctx.smoke or _np_ready())
    warm = 5 if ctx.smoke else 200
    res = bf.run(pages, ctx.settings, ctx.workdir, with_np, np_limit=10 if ctx.smoke else 0, warm=warm)
    by = {r.name: r for r in res.runs}
    npl = next((r for r in res.runs if r.name.startswith("news-please")), None)
    pre, every = by["import, prefiltered"], by["import --all"]

    def times(r) -> str:
        return f"{r.rate / npl.rate:.1f} ×" if npl and npl.rate and not r.name.startswith("read") else ""

    rows = [(r.name, r.pages, r.out, r.usage.wall, r.rate, r.usage.cpu, r.usage.cpu / r.pages * 1000 if r.pages else 0,
             times(r)) for r in res.runs]
    tbl = report.table(["run", "response records", "articles out", "wall s", "records/s", "CPU s", "CPU ms/record",
                        "× news-please"], rows)
    relevant, kept = res.recall
    recall = kept / relevant if relevant else 1.0
    fast = [r for r in res.runs if r.name.startswith("read: FastWARC")]
    slow = [r for r in res.runs if r.name.startswith("read: warcio")]
    read_ratio = sum(r.rate for r in fast) / sum(r.rate for r in slow) if fast and slow and all(r.rate for r in slow) else 0
    c = pre.notes["counts"]
    passed = c.get("to_extraction", 0)
    headline = []
    if npl and npl.rate:
        headline.append(f"prefiltered import {pre.rate:,.0f} records/s = {pre.rate / npl.rate:.0f} × news-please "
                        f"(target ≥ 50: {'met' if pre.rate / npl.rate >= 50 else 'missed'})")
        headline.append(f"`--all` {every.rate:,.1f} records/s = {every.rate / npl.rate:.1f} × news-please "
                        f"(target ≥ 2.5: {'met' if every.rate / npl.rate >= 2.5 else 'missed'})")
    else:
        headline.append(f"prefiltered import {pre.rate:,.0f} records/s, `--all` {every.rate:,.1f} records/s "
                        "(news-please not run)")
    headline.append(f"prefilter recall {kept}/{relevant} = {_pct(recall)} of the relevant articles")
    if read_ratio:
        headline.append(f"FastWARC reads {read_ratio:.1f} × as fast as warcio")
    _echo("6. Backfill", tbl)
    t_rel, t_pass, t_other, t_other_pass = res.topic
    body = [f"**Headline:** {'; '.join(headline)}.", "", ctx.stamp(),
            "The machine is shared by other engineers' work (2 cores): absolute rates move with their load; "
            "the ratios are of runs made one after the other in the same session, and the CPU columns are less "
            "sensitive to the load. To be rerun on a quiet machine.", "",
            f"{len(pages):,} pages: {len(news):,} real pages of `news-pages/` and {len(demo)} article pages of the "
            "demo sites mixed in, served by the local benchmark site (`demo_sites/bench_site.py`, 4 loopback hosts) and "
            f"written by `wget --mirror --warc-file` (`{res.files['wget'][0]}`, {res.files['wget'][1] / 2**20:.0f} MiB, "
            "gzip per record, request + response per URL, plus the site's home and section pages); the response "
            f"records written again by warcio (`{res.files['warcio'][0]}`) as the second writer. The rates count the "
            "response records (the request, metadata and warcinfo records are read too, not counted). Each run is "
            "one process over one file (the backfill spreads files over processes, one each; news-please's "
            "CC-NEWS crawler does the same).", "", tbl, "",
            "- **read**: every record, the payload of each response read; nothing else.",
            "- **import, prefiltered** / **import --all**: `crawler.backfill.importer.import_file` over the wget "
            "file (FastWARC; filters; the topic prefilter or not; `crawler.worker.process_page` = trafilatura + "
            "enrichment; raw page copied to the project's WARC store; bulk writes through `Archive.write` into a "
            "`bench-import-` index; checkpoints). CPU = this process (the Elasticsearch node's CPU is not included).",
            f"- Every run starts warm, as a long import of 1 GB CC-NEWS files is: before the clock starts, the first "
            f"{warm} HTML pages of the file go once through extraction and enrichment (the backfill) or "
            "`from_warc` (news-please), which loads the dictionaries, models and date parsers of their languages; "
            "the prefilter is built before the clock too (under a second; its irregular forms come from the "
            "lemma-dictionaries cache), but its memo of the words it has looked up starts empty: the run pays for "
            "looking up each of the file's distinct words once (≈ 240,000 in 40 languages here).",
            f"- Prefiltered run: {passed:,} of {pre.pages:,} response records passed the filters and "
            f"the prefilter ({_pct(passed / pre.pages if pre.pages else 0)}) and went to extraction; counts {_counts(c)}.",
            f"- `--all` run: counts {_counts(every.notes['counts'])}."]
    if npl:
        body.append(f"- **news-please**: `NewsPlease.from_warc` on every HTML response record, records read with "
                    "warcio (its CC-NEWS path), one process, in its own venv (`bench/newsplease_warc_worker.py`)"
                    + (f", the first {npl.notes['limit']} page records" if npl.notes.get("limit") else "")
                    + f"; failures {npl.notes.get('failed')} {npl.notes.get('errors') or ''}.")
    body += ["", f"**Prefilter recall**: the `--all` import marked {relevant} articles relevant; the prefiltered "
             f"import imported {kept} of them ({_pct(recall)})"
             + (f"; lost: {', '.join(res.lost[:10])}" if res.lost else "") + ". On the labelled topic texts "
             f"(`bench/topic_sets/` and `topic-dev/`, as pages): {t_pass} of the {t_rel} texts the enrichment marks "
             f"relevant pass the prefilter; {t_other_pass} of the {t_other} others pass too (they are hard "
             "negatives, written to share the vocabulary)."]
    bf.drop_indices(ctx.settings)
    return "\n".join(body)


def _counts(c: dict) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(c.items(), key=lambda kv: -kv[1]) if v)


# ----------------------------------------------------------------------------- enrichment
def enrich(ctx: Context) -> str | None:
    """Runs ``bench/eval_enrich.py`` (its owner writes its own BENCHMARKS.md section)."""
    # it has no smoke size (the labelled set is small); --write updates the repository's BENCHMARKS.md
    cmd = [sys.executable, "-m", "bench.eval_enrich"] + ([] if ctx.smoke else ["--write"])
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=os.environ.copy(), text=True, capture_output=True)
    click.echo(proc.stdout[-4000:])
    if proc.returncode != 0:
        log.error("%s exited with %d: %s", " ".join(cmd), proc.returncode, proc.stderr[-1500:])
    return None


SECTIONS: dict[str, tuple[str, Any]] = {
    "throughput": (report.THROUGHPUT, throughput),
    "indexing": (report.INDEXING, indexing),
    "search": (report.SEARCH, search),
    "export": (report.EXPORT, export),
    "extraction": (report.EXTRACTION, extraction),
    "import": (report.IMPORT, backfill),
}


def with_notes(name: str, text: str, smoke: bool) -> str:
    """A section's text followed by its written analysis ``bench/notes/<name>.md``, when there is one.

    The tables are regenerated by each run; the analysis (where the time goes, what would close a
    gap) is written by a person from the measurements and kept next to the harness."""
    notes = REPO_ROOT / "bench" / "notes" / f"{name}.md"
    if smoke or not notes.exists():
        return text
    return text.rstrip() + "\n\n" + notes.read_text(encoding="utf-8").strip()


def clean(ctx: Context) -> list[str]:
    """Delete every ``<prefix>bench-*`` index and template of this session's prefix."""
    pattern = f"{ctx.settings.index_prefix}bench-*"
    names = list(ctx.es.indices.get(index=pattern, expand_wildcards="all", allow_no_indices=True,
                                    ignore_unavailable=True))
    if names:
        ctx.es.indices.delete(index=",".join(names))
    templates = ctx.es.options(ignore_status=404).indices.get_index_template(name=pattern)
    for t in templates.body.get("index_templates", []):
        ctx.es.indices.delete_index_template(name=t["name"])
    return names
