"""One crawl process: ``python -m crawler.crawl_process --sources a,b --stats-file stats.json``.

Runs the named sources in ONE Scrapy process (one spider per source), writes the stats
file atomically about every second and at the end (the scheduler reads it for its live
progress line and run history), prints a per-source report and exits 0 when the crawl
completed, even with per-page errors (they are in the report). Exit 2: bad arguments or
sources file.

Top-level imports stay light: the extraction pool's fork server is a fresh interpreter that
may re-import this module as ``__mp_main__``; Scrapy is imported only inside :func:`crawl_sources`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)


def crawl_sources(source_names, stats_file=None, run_id: str | None = None, sources_file=None,
              settings=None, print_report: bool = True) -> dict:
    """Crawl the named sources in this process (once per process: Twisted cannot restart).

    Returns the final stats dict (the same as written to ``stats_file``).
    """
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings as ScrapySettings

    from crawler.known_urls import KnownUrls
    from crawler.settings import scrapy_settings
    from crawler.sources import load_sources, select_sources
    from crawler.spiders.news import NewsSpider
    from crawler.run_report import SourceReport, StatsFile, format_report, new_run_id
    from indexer.raw_pages import WarcWriter
    from dealwatch.settings import get_settings

    dw = settings or get_settings()
    if isinstance(source_names, str):
        source_names = [n for n in source_names.split(",") if n]
    sources_path = Path(sources_file) if sources_file else dw.sources_file
    sources = select_sources(load_sources(sources_path), list(source_names), str(sources_path))
    run_id = run_id or new_run_id()
    reports = {s.name: SourceReport(s.name) for s in sources}
    stats = StatsFile(stats_file, run_id, reports)
    stats.write()
    known = KnownUrls.from_settings(dw)
    _forget_lost_sources(dw, known, [s.name for s in sources])

    process = CrawlerProcess(ScrapySettings(scrapy_settings(dw)), install_root_handler=True)
    for noisy in ("elastic_transport", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ticker = None

    def _start_ticker() -> None:  # runs once the reactor is up (installed by the first crawler)
        nonlocal ticker
        if ticker is None:
            from twisted.internet import task
            ticker = task.LoopingCall(stats.write)
            ticker.start(1.0, now=False)

    for src in sources:
        crawler = process.create_crawler(NewsSpider)
        # each source's own time limit closes only its spider (finish_reason closespider_timeout)
        crawler.settings.set("CLOSESPIDER_TIMEOUT", float(src.time_limit), priority="cmdline")
        crawler.signals.connect(_start_ticker, signal=signals.engine_started)
        process.crawl(crawler, source=src, report=reports[src.name], known=known,
                      archive=WarcWriter(dw.data_dir, dw.raw_dir, src.name, run_id), dw_settings=dw)
    started = time.monotonic()
    try:
        process.start()
    finally:
        if ticker is not None and ticker.running:
            ticker.stop()
        known.close()
    for r in reports.values():
        r.finish_reason = r.finish_reason or "not_started"
    stats.write(finished=True)
    if print_report:
        print(format_report(reports, time.monotonic() - started), flush=True)
    return stats.as_dict(finished=True)


def _forget_lost_sources(dw, known, names: list[str]) -> None:
    """If the index lost a source's documents (deleted, reset) the store must not keep skipping
    its pages: forget those sources so this run fetches them again."""
    from indexer.archive import Archive
    from indexer.errors import ArchiveError

    archive = Archive(dw)
    for name in names:
        if not known.count(source=name, status="indexed"):
            continue
        try:
            n = archive.count(source=name)
        except ArchiveError as exc:  # the index pipeline will report the outage itself
            log.warning("cannot check the index for %s: %s", name, exc)
            continue
        if n == 0:
            log.warning("%s: the index holds none of its %d archived pages; fetching them again",
                        name, known.count(source=name, status="indexed"))
            known.forget_source(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.crawl_process", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", required=True, help="comma-separated source names")
    parser.add_argument("--sources-file", help="sources YAML (default: settings.sources_file)")
    parser.add_argument("--stats-file", required=True, help="JSON stats file, rewritten about every second")
    parser.add_argument("--run-id", help="run id (default: a new one, UTC time + random)")
    args = parser.parse_args(argv)
    from crawler.sources import SourcesError
    try:
        crawl_sources(args.sources, args.stats_file, args.run_id, args.sources_file)
    except SourcesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
