"""Section 6: the backfill (``dealwatch import``) against news-please's own WARC path.

One WARC of the real pages of ``news-pages/`` with the demo's articles mixed in, written by a real
third-party writer: ``wget --mirror --warc-file`` of the local benchmark site (:mod:`demo_sites.bench_site`),
and the same pages written again by warcio. Measured side by side, in one process each:

- reading alone: every record of the file, the payload of each response read, with warcio and
  with FastWARC (the choice of the backfill's reader);
- the prefiltered import and the ``--all`` import (:func:`crawler.backfill.importer.import_file`:
  read, filter, prefilter, extract, enrich, write to a ``bench-import-`` index);
- news-please's ``NewsPlease.from_warc`` over the same records (:mod:`bench.newsplease_warc_worker`,
  in its own venv).

The rates are page records (HTTP responses of HTML pages) per second of wall time; CPU seconds are
given too, since the machine is shared. The prefilter's recall: of the articles the ``--all``
import marks relevant, the share the prefiltered import imported.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import newsplease_env
from bench.corpus import NewsPage
from bench.measure import Stopwatch, Usage
from demo_sites.bench_site import LocalSite, build_layout
from dealwatch.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)


@dataclass
class Run:
    name: str
    pages: int                      # page records handled
    out: int | str = ""             # articles that came out
    usage: Usage = field(default_factory=lambda: Usage(0.0, 0.0))
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.pages / self.usage.wall if self.usage.wall else 0.0

    @property
    def cpu_rate(self) -> float:
        return self.pages / self.usage.cpu if self.usage.cpu else 0.0


def demo_news_pages() -> list[NewsPage]:
    """The demo sites' article pages (both editions' articles, as the demo serves edition 2)."""
    from demo_sites.content import load_sites
    from demo_sites.render import render_article

    out = []
    for site in load_sites():
        for a in site.visible_articles(2):
            out.append(NewsPage(f"demo-{site.name}-{a.slug}", render_article(site, a, 2).encode("utf-8"),
                                {"gt_title": a.title}))
    return out


def mix(news: tuple[NewsPage, ...], demo: list[NewsPage]) -> tuple[NewsPage, ...]:
    """The demo's pages spread evenly among the news pages."""
    out = list(news)
    step = max(1, len(out) // (len(demo) + 1))
    for n, page in enumerate(demo):
        out.insert(min(len(out), (n + 1) * step + n), page)
    return tuple(out)


# ----------------------------------------------------------------------------- the WARC files
def wget_warc(pages: tuple[NewsPage, ...], workdir: Path) -> Path:
    """``wget --mirror --warc-file`` of the benchmark site serving ``pages`` (cached by content)."""
    digest = hashlib.sha1("\n".join(p.key for p in pages).encode()).hexdigest()[:10]
    out = workdir / f"bench-wget-{len(pages)}-{digest}.warc.gz"
    if out.exists():
        return out
    if not shutil.which("wget"):
        raise RuntimeError("wget is not installed (apt-get install wget): it writes the benchmark's WARC")
    layout = build_layout([(p.html, p.title) for p in pages], n_hosts=4)
    tmp = workdir / "wget-mirror"
    shutil.rmtree(tmp, ignore_errors=True)
    with LocalSite(layout):
        # the site's own pages only: the news pages' links into their original sites would be 404s here
        proc = subprocess.run(["wget", "--mirror", "--no-verbose", "--delete-after", "--tries", "2", "--timeout", "30",
                               "--accept-regex", r"^http://[0-9.]+:[0-9]+/(a/[0-9]+\.html|section/[0-9]+/)?$",
                               "--warc-file", str(out.with_suffix("").with_suffix("")), "--directory-prefix", str(tmp),
                               *[layout.base(h) + "/" for h in layout.hosts]],
                              capture_output=True, text=True, timeout=7200)
    shutil.rmtree(tmp, ignore_errors=True)
    if not out.exists():
        raise RuntimeError(f"wget wrote no WARC (exit {proc.returncode}): {proc.stderr[-1500:]}")
    return out


def warcio_copy(source: Path, workdir: Path) -> Path:
    """The response records of ``source`` written again by warcio (gzip per record): the second writer."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.warcwriter import WARCWriter

    out = workdir / source.name.replace("bench-wget-", "bench-warcio-")
    if out.exists():
        return out
    tmp = out.with_suffix(".tmp")
    with open(source, "rb") as src, open(tmp, "wb") as dst:
        writer = WARCWriter(dst, gzip=True)
        for record in ArchiveIterator(src):
            if record.rec_type != "response":
                continue
            url = record.rec_headers.get_header("WARC-Target-URI").strip("<>")
            body = record.content_stream().read()
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          http_headers=record.http_headers))
    tmp.rename(out)
    return out


# ----------------------------------------------------------------------------- reading alone
def read_warcio(path: Path) -> Run:
    from warcio.archiveiterator import ArchiveIterator

    pages = records = 0
    with Stopwatch() as sw, open(path, "rb") as fh:
        for record in ArchiveIterator(fh):
            records += 1
            if record.rec_type == "response":
                record.content_stream().read()
                pages += 1
    return Run("read: warcio", pages, usage=sw.usage, notes={"records": records})


def read_fastwarc(path: Path) -> Run:
    from fastwarc import ArchiveIterator, WarcRecordType

    pages = records = 0
    with Stopwatch() as sw, open(path, "rb") as fh:
        for record in ArchiveIterator(fh, auto_decode="none"):
            records += 1
            if record.record_type == WarcRecordType.response:
                record.reader.read()
                pages += 1
    return Run("read: FastWARC", pages, usage=sw.usage, notes={"records": records})


# ----------------------------------------------------------------------------- imports
def _warm_pages(path: Path, settings: Settings, n: int) -> None:
    """The first ``n`` HTML pages of the file through extraction and enrichment, untimed (the lazily
    loaded dictionaries of their languages, date parsers...): the steady state of a long import."""
    from fastwarc import ArchiveIterator, WarcRecordType

    from crawler.worker import PageTask, process_page

    done = 0
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh, record_types=WarcRecordType.response, auto_decode="none"):
            if done >= n:
                return
            if "html" in (record.http_headers.get("Content-Type") or "").lower():
                done += 1
                url = record.headers.get("WARC-Target-URI").strip("<>")
                process_page(PageTask(url, record.reader.read(), "warm-up"), settings)


def import_run(name: str, path: Path, settings: Settings, prefilter: bool, warm: int = 0
               ) -> tuple[Run, dict[str, dict]]:
    """One ``import_file`` of the whole file in this process into a fresh ``bench-import-`` index."""
    from crawler.backfill.filters import ImportOptions, SourceMap
    from crawler.backfill.importer import import_file, prefilter_for
    from crawler.backfill.inputs import expand
    from crawler.worker_preload import warm_up
    from indexer.archive import Archive
    from indexer.import_checkpoints import index_name
    from indexer.store import drop_all
    from indexer.client import make_client

    es = make_client(settings)
    drop_all(es, settings, extra_patterns=[index_name(settings)])
    shutil.rmtree(settings.raw_dir, ignore_errors=True)
    archive = Archive(settings)
    archive.ensure()
    warm_up()                       # dictionaries and models loaded before the clock starts, as in a long run
    _warm_pages(path, settings, warm)
    if prefilter:
        prefilter_for(settings)
    [inp] = expand(str(path))
    with Stopwatch() as sw:
        result = import_file(inp, ImportOptions(prefilter=prefilter), settings, archive, SourceMap(), name)
    archive.refresh()
    es.indices.refresh(index=settings.articles_alias)
    docs = {h["_id"]: h["_source"] for h in es.search(index=settings.articles_alias, size=10_000,
                                                       source_includes=["relevant", "title", "content_hash"],
                                                       query={"match_all": {}})["hits"]["hits"]}
    c = result.counts
    pages = c.get("records", 0) - c.get("other_record", 0)
    run = Run(name, pages, c.get("new", 0) + c.get("updated", 0) + c.get("unchanged", 0), sw.usage,
              notes={"counts": c, "status": result.status})
    return run, docs


def newsplease_run(path: Path, limit: int = 0, warm: int = 0) -> Run:
    python = newsplease_env.ensure_venv()
    version = newsplease_env.newsplease_version(python)
    worker = REPO_ROOT / "bench" / "newsplease_warc_worker.py"
    proc = subprocess.run([str(python), str(worker), str(path), str(limit), str(warm)], capture_output=True, text=True,
                          timeout=6 * 3600)
    if proc.returncode != 0:
        raise RuntimeError(f"news-please worker failed: {proc.stderr[-1500:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return Run(f"news-please {version}: from_warc", out["pages"], out["articles"], Usage(out["wall"], out["cpu"]),
               notes={"errors": out["errors"], "failed": out["failed"], "limit": limit})


# ----------------------------------------------------------------------------- the prefilter's recall on texts
def topic_set_recall(settings: Settings) -> tuple[int, int, int, int]:
    """Labelled topic texts as pages: (relevant by enrichment, of them passing the prefilter, others, others passing)."""
    import html

    from bench.corpus import MissingData, topic_records
    from crawler.backfill.importer import prefilter_for
    from indexer.documents import enriched_document
    from indexer.schema import Article

    records = []
    for name in ("dev.jsonl", "blind.jsonl"):
        p = REPO_ROOT / "bench" / "topic_sets" / name
        if p.exists():
            records += [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        records += topic_records()
    except MissingData:
        pass
    pf = prefilter_for(settings)
    rel = rel_pass = other = other_pass = 0
    for r in records:
        doc = enriched_document(Article(url=r["url"], canonical_url=r["url"], source="topic", title=r["title"],
                                        text=r["text"], lang=r["lang"]), settings)
        page = (f"<html><head><title>{html.escape(r['title'])}</title></head><body><h1>{html.escape(r['title'])}</h1>"
                + "".join(f"<p>{html.escape(line)}</p>" for line in r["text"].split("\n")) + "</body></html>")
        passed = pf.passes(page)
        if doc["relevant"]:
            rel, rel_pass = rel + 1, rel_pass + passed
        else:
            other, other_pass = other + 1, other_pass + passed
    return rel, rel_pass, other, other_pass


@dataclass
class Result:
    runs: list[Run]
    recall: tuple[int, int]                 # (relevant in --all, of them imported by the prefiltered run)
    lost: list[str]
    topic: tuple[int, int, int, int]
    files: dict[str, Any]


def run(pages: tuple[NewsPage, ...], settings: Settings, workdir: Path, with_newsplease: bool,
        np_limit: int = 0, warm: int = 200) -> Result:
    workdir = workdir / "import"
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    wget_file = wget_warc(pages, workdir)
    warcio_file = warcio_copy(wget_file, workdir)
    log.info("benchmark WARCs ready in %.0f s: %s, %s", time.perf_counter() - started, wget_file, warcio_file)
    runs = []
    for reader in (read_warcio, read_fastwarc):
        for path, writer in ((wget_file, "wget"), (warcio_file, "warcio")):
            r = reader(path)
            r.name += f" ({writer} file)"
            runs.append(r)
    pre_s = settings.replace(index_prefix=f"{settings.index_prefix}bench-import-pre-", data_dir=workdir / "data-pre")
    all_s = settings.replace(index_prefix=f"{settings.index_prefix}bench-import-all-", data_dir=workdir / "data-all")
    pre, pre_docs = import_run("import, prefiltered", wget_file, pre_s, prefilter=True, warm=warm)
    every, all_docs = import_run("import --all", wget_file, all_s, prefilter=False, warm=warm)
    runs += [pre, every]
    if with_newsplease:
        runs.append(newsplease_run(wget_file, np_limit, warm))
    relevant = {i for i, d in all_docs.items() if d.get("relevant")}
    kept = relevant & set(pre_docs)
    lost = sorted(all_docs[i].get("title", i) for i in relevant - kept)
    files = {"wget": (wget_file.name, wget_file.stat().st_size), "warcio": (warcio_file.name, warcio_file.stat().st_size)}
    return Result(runs, (len(relevant), len(kept)), lost, topic_set_recall(settings), files)


def drop_indices(settings: Settings) -> None:
    from indexer.client import make_client
    from indexer.import_checkpoints import index_name
    from indexer.store import drop_all

    es = make_client(settings)
    for tag in ("pre", "all"):
        s = settings.replace(index_prefix=f"{settings.index_prefix}bench-import-{tag}-")
        drop_all(es, s, extra_patterns=[index_name(s)])
