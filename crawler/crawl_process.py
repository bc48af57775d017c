"""One crawl process: ``python -m crawler.crawl_process --sources a,b --stats-file stats.json``.

Runs the named sources in ONE Scrapy process (one crawler and spider per source, each with its
own time limit), keeps the stats file (:mod:`crawler.run_report`; each crawler's
:class:`~crawler.extensions.RunReport` rewrites its source's entry about every second, the
supervisor reads it for its live progress line and run history), prints a per-source report
and exits 0 when the crawl completed, even with per-page errors (they are in the report).
Exit 2: bad arguments or sources file. Exit 4: the known-URL store is damaged (the message names
the file and the repair, ``dealwatch repair known-urls``). Exit 3: raw pages could not be stored (disk full, …):
the sources concerned were stopped (finish reason ``storage_error``) and the error says where.
Exit 75: a crawl of one of the sources already runs.

The crawl holds its sources' locks (:mod:`crawler.locks`) for as long as it lives: the
supervisor hands its locked descriptor over (``--lock-fd``); started by hand, the process
takes the locks itself.

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


EXIT_LOCKED = 75     # EX_TEMPFAIL: try again later


def crawl_sources(source_names, stats_file, run_id: str | None = None, sources_file=None,
                  settings=None, print_report: bool = True, lock_fd: int | None = None) -> dict:
    """Crawl the named sources in this process (once per process: Twisted cannot restart).

    Returns the final stats file (a dict, as written to ``stats_file``).
    """
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings as ScrapySettings

    from crawler import run_report
    from crawler.known_urls import KnownUrls
    from crawler.locks import hold_for_crawl
    from crawler.settings import scrapy_settings, source_settings
    from crawler.sources import load_sources, select_sources, time_limit
    from crawler.spiders.news import NewsSpider
    from dealwatch.settings import get_settings

    dw = settings or get_settings()
    if isinstance(source_names, str):
        source_names = [n for n in source_names.split(",") if n]
    sources_path = Path(sources_file) if sources_file else dw.sources_file
    sources = select_sources(load_sources(sources_path), list(source_names), str(sources_path))
    KnownUrls.from_settings(dw).close()   # a damaged store stops the run here, named (KnownUrlsDamaged)
    run_id = run_id or run_report.new_run_id()
    stats_path = Path(stats_file)
    held = hold_for_crawl(dw, {s.name: time_limit(s, dw) for s in sources}, lock_fd,  # noqa: F841 - till exit
                          run_id, stats_path)
    run_report.start_stats_file(stats_path, run_id, [s.name for s in sources])

    process = CrawlerProcess(ScrapySettings(scrapy_settings(dw, run_id, stats_path)), install_root_handler=True)
    for noisy in ("elastic_transport", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for src in sources:
        crawler = process.create_crawler(NewsSpider)
        crawler.settings.setdict(source_settings(time_limit(src, dw), src), priority="spider")
        process.crawl(crawler, source=src)
    started = time.monotonic()
    process.start()
    final = run_report.finish_stats_file(stats_path, run_id)
    if print_report:
        print(run_report.format_report(final["sources"], time.monotonic() - started), flush=True)
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.crawl_process", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", required=True, help="comma-separated source names")
    parser.add_argument("--sources-file", help="sources YAML (default: settings.sources_file)")
    parser.add_argument("--stats-file", required=True, help="JSON stats file, rewritten about every second")
    parser.add_argument("--run-id", help="run id (default: a new one, UTC time + random)")
    parser.add_argument("--lock-fd", type=int, help="the source's lock, taken by the supervisor (default: "
                                                    "the process takes its sources' locks itself)")
    args = parser.parse_args(argv)
    from crawler.known_urls import KnownUrlsDamaged
    from crawler.locks import LockError
    from crawler.sources import SourcesError
    try:
        final = crawl_sources(args.sources, args.stats_file, args.run_id, args.sources_file,
                              lock_fd=args.lock_fd)
    except SourcesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KnownUrlsDamaged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 4
    except LockError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    stopped = storage_failures(final)
    for line in stopped:
        print(f"error: {line}", file=sys.stderr, flush=True)
    return 3 if stopped else 0


def storage_failures(final: dict) -> list[str]:
    """One line per source stopped because its raw pages could not be stored."""
    lines = []
    for name, entry in (final.get("sources") or {}).items():
        if entry.get("finish_reason") != "storage_error":
            continue
        sample = next((x for x in entry.get("error_samples") or () if x.get("kind") == "storage"), {})
        n = (entry.get("errors") or {}).get("storage", 0)
        lines.append(f"{name}: {n} pages not archived, crawl stopped: {sample.get('message') or 'storage error'}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
