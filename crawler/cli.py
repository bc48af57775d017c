"""The crawler's commands: ``dealwatch crawl``, ``status``, ``reextract``, ``repair known-urls`` and ``sources``.

``sources check`` fetches each source's robots.txt, feeds and sitemaps once and says what it
found (:mod:`crawler.source_check`); ``sources suggest`` lists the outlets the search sources
surfaced, ready to paste into the sources file (:mod:`crawler.suggest`).

``crawl`` runs chosen sources once, now, each in its own crawl process (the same job the
scheduler runs: :func:`crawler.supervisor.supervise_crawl`), with a live progress board and a
final per-source report. ``schedule``, the daemon, is wired in ``dealwatch/daemon.py`` (it runs
the crawl jobs of :mod:`crawler.scheduler` and the alerts' jobs in one scheduler). ``status``
reads the run history and the scheduler's job store. ``reextract`` rebuilds documents from
the stored raw pages without fetching anything. ``repair known-urls`` rebuilds a damaged
known-URL store from the index and the WARC files. ``dealwatch/cli.py`` adds :data:`COMMANDS`
to the ``dealwatch`` group.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import click

from dealwatch.settings import Settings, get_settings

_sources_file_option = click.option(
    "--sources-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Sources YAML (default: seeds/sources.yaml, or DEALWATCH_SOURCES_FILE).")


def _sources_path(settings: Settings, sources_file: Path | None) -> Path:
    return sources_file or Path(settings.sources_file)


def _load(path: Path):
    from crawler.sources import SourcesError, load_sources
    try:
        return load_sources(path)
    except SourcesError as exc:
        raise click.ClickException(str(exc)) from exc


# --- dealwatch crawl -------------------------------------------------------------------

@click.command("crawl")
@click.argument("names", nargs=-1)
@_sources_file_option
@click.option("-j", "--parallel", type=click.IntRange(1, 16), default=None,
              help="Sources crawled at the same time (default: setting crawl_parallelism).")
def crawl(names: tuple[str, ...], sources_file: Path | None, parallel: int | None) -> None:
    """Crawl SOURCES (default: all) once, now, each in its own crawl process."""
    from crawler.progress import ProgressBoard
    from crawler.run_report import new_run_id
    from crawler.supervisor import stop_running_crawls, supervise_crawl
    from indexer.archive import Archive

    settings = get_settings()
    path = _sources_path(settings, sources_file)
    sources = _load(path)
    if names:
        by_name = {s.name: s for s in sources}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise click.ClickException(f"unknown source(s) {', '.join(unknown)} in {path}; "
                                       f"known: {', '.join(sorted(by_name))}")
        sources = [by_name[n] for n in names]
    if not sources:
        raise click.ClickException(f"no sources in {path}")

    archive = Archive(settings)
    archive.ensure()        # once, before parallel crawl processes write
    archive.register_sources(s.configured() for s in sources)

    run_id = new_run_id()
    board = ProgressBoard(len(sources), tty=sys.stdout.isatty())
    workers = min(parallel or settings.crawl_parallelism, len(sources))
    click.echo(f"crawl {run_id}: {len(sources)} source(s) from {path}, {workers} at a time")

    def one(source):
        record = supervise_crawl(source, settings, run_id=run_id, sources_file=path, on_progress=board.update)
        board.finished(record)
        return record

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crawl") as pool:
        try:
            records = list(pool.map(one, sources))
        except KeyboardInterrupt:
            stop_running_crawls()
            raise
    board.close()
    _print_report(records)
    if all(r.status in ("failed", "timed_out", "skipped") for r in records):
        sys.exit(1)


def _print_report(records) -> None:
    click.echo("")
    header = f"{'source':<24} {'status':<9} {'pages':>6} {'new':>5} {'upd':>5} {'same':>5} {'drop':>5} {'err':>5} {'secs':>6}"
    click.echo(header)
    click.echo("-" * len(header))
    for r in records:
        a = r.articles
        click.echo(f"{r.source:<24} {r.status:<9} {r.pages_fetched:>6} {a.get('new', 0):>5} {a.get('updated', 0):>5} "
                   f"{a.get('unchanged', 0):>5} {a.get('dropped', 0):>5} {r.errors_total:>5} {r.duration_s or 0:>6.1f}")
    for r in records:
        details = []
        if r.dropped_reasons:
            details.append("dropped: " + ", ".join(f"{k} {v}" for k, v in sorted(r.dropped_reasons.items())))
        if r.errors:
            details.append("errors: " + ", ".join(f"{k} {v}" for k, v in sorted(r.errors.items())))
        if r.last_error:
            details.append(f"last error: {r.last_error}")
        for sample in r.error_samples[:5]:
            details.append(f"  {sample.get('kind')}: {sample.get('url')} — {sample.get('message')}")
        if details:
            click.echo(f"\n{r.source}:")
            for d in details:
                click.echo(f"  {d}")


# --- dealwatch status ------------------------------------------------------------------

@click.command("status")
@_sources_file_option
def status(sources_file: Path | None) -> None:
    """Per source: last run, next run, totals and last error."""
    from crawler import pending_runs
    from crawler.scheduler import next_run_times
    from crawler.supervisor import find_orphans
    from indexer.archive import Archive

    settings = get_settings()
    path = _sources_path(settings, sources_file)
    names = [s.name for s in _load(path)] if path.exists() else []
    archive = Archive(settings)
    orphans = find_orphans(settings)            # records runs a dead supervisor left unrecorded
    replay = pending_runs.replay(settings, archive)   # runs kept while the archive was down
    summaries = archive.source_summaries()
    next_runs = next_run_times(settings)
    names += [n for n in sorted(set(summaries) | set(next_runs)) if n not in names]
    if not names:
        click.echo("no sources and no runs yet")
        return
    header = (f"{'source':<24} {'last run (UTC)':<16} {'status':<9} {'pages':>6} {'new':>5} {'upd':>5} {'err':>5}  "
              f"{'next run (UTC)':<16} {'runs':>5} {'total new':>9} {'total err':>9}")
    click.echo(header)
    click.echo("-" * len(header))
    errors = []
    for name in names:
        s = summaries.get(name)
        nxt = next_runs.get(name) or (s.next_run_at if s else None)
        if nxt is None and name not in next_runs:
            nxt_text = "not scheduled"
        else:
            nxt_text = _when(nxt)
        if not s or not s.last_run:
            click.echo(f"{name:<24} {'never':<16} {'-':<9} {'':>6} {'':>5} {'':>5} {'':>5}  {nxt_text:<16} {0:>5}")
            continue
        r = s.last_run
        click.echo(f"{name:<24} {_when(r.started_at):<16} {r.status:<9} {r.pages_fetched:>6} "
                   f"{r.articles.get('new', 0):>5} {r.articles.get('updated', 0):>5} {r.errors_total:>5}  "
                   f"{nxt_text:<16} {s.runs:>5} {s.totals.get('new', 0):>9} {s.totals.get('errors', 0):>9}")
        if s.last_error:
            errors.append(f"{name} ({_when(s.last_error_at)}): {s.last_error}")
    if errors:
        click.echo("\nlast errors:")
        for e in errors:
            click.echo(f"  {e}")
    for o in orphans:
        click.echo(f"\n{o.source}: crawl running without a supervisor (run {o.run_id}, pid {o.crawl_pid}); "
                   "the scheduler adopts and records it when it starts")
    if replay.waiting:
        click.echo(f"\n{replay.waiting} run(s) wait in {pending_runs.spool_dir(settings)} to be recorded")


def _when(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if value else "-"


# --- dealwatch reextract ---------------------------------------------------------------

@click.command("reextract")
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable). Default: all.")
@click.option("--workers", type=int, default=None, help="Extraction processes (default: settings.extract_workers).")
def reextract(sources: tuple[str, ...], workers: int | None) -> None:
    """Rebuild documents from the stored raw pages (WARC), without fetching anything."""
    from crawler.reextract import reextract as rebuild

    settings = get_settings()
    if not settings.raw_dir.is_dir():
        raise click.ClickException(f"no raw pages stored yet under {settings.raw_dir} (run a crawl first)")
    known = {p.name for p in settings.raw_dir.iterdir() if p.is_dir()}
    missing = [s for s in sources if s not in known]
    if missing:
        raise click.ClickException(f"no raw pages for source(s) {missing}; stored: {sorted(known)}")

    def progress(n: int) -> None:
        if n % 100 == 0:
            click.echo(f"\r{n} pages re-extracted", nl=False, err=True)

    result = rebuild(settings, list(sources) or None, workers=workers, on_progress=progress)
    click.echo("", err=True)
    w = result.written
    click.echo(f"{result.pages} pages from {len(result.sources)} source(s): new {w['new']}, updated {w['updated']}, "
               f"unchanged {w['unchanged']}, failed {w['failed']}; dropped "
               + (", ".join(f"{k} {v}" for k, v in sorted(result.dropped.items())) or "0"))


# --- dealwatch repair ------------------------------------------------------------------

@click.group("repair")
def repair() -> None:
    """Rebuild per-machine state from the archive after damage."""


@repair.command("known-urls")
def repair_known_urls() -> None:
    """Rebuild the known-URL store from the index and the WARC files (the old file is kept aside).

    Run it when a crawl says the store is damaged. Indexed pages are not fetched again until
    they are due; pages archived but never indexed are indexed by the next run from their WARC."""
    from crawler.known_urls import rebuild
    from indexer.archive import Archive

    settings = get_settings()
    result = rebuild(settings, Archive(settings))
    if result.kept_as:
        click.echo(f"the old store is kept as {result.kept_as}")
    click.echo(f"rebuilt {result.path}: {result.indexed} indexed pages from the index, {result.pending} pages "
               f"found only in WARC files (the next run indexes them from there)")



# --- dealwatch sources check | suggest ---------------------------------------------------

@click.group("sources")
def sources() -> None:
    """Check the sources file, and find outlets worth adding to it."""


@sources.command("check")
@click.argument("names", nargs=-1)
@_sources_file_option
def sources_check(names: tuple[str, ...], sources_file: Path | None) -> None:
    """Fetch each source's robots.txt, feeds and sitemaps once and report what they yield
    (exit status 1 when a source yields nothing)."""
    from crawler.source_check import check_source, fetcher_for
    from crawler.sources import SourcesError, select_sources

    settings = get_settings()
    path = _sources_path(settings, sources_file)
    chosen = _load(path)
    if names:
        try:
            chosen = select_sources(chosen, list(names), str(path))
        except SourcesError as exc:
            raise click.ClickException(str(exc)) from exc
    failed = []
    for source in chosen:
        fetcher = fetcher_for(source, settings)
        try:
            report = check_source(source, fetcher)
        finally:
            fetcher.close()
        verdict = f"{report.items} items" if report.ok else "NOTHING FOUND"
        click.echo(f"{source.name} ({source.kind}): {verdict}")
        for url in report.urls:
            click.echo(url.line())
        if not report.ok:
            failed.append(source.name)
    if failed:
        click.echo(f"\n{len(failed)} of {len(chosen)} source(s) yield nothing: {', '.join(failed)}")
        sys.exit(1)
    click.echo(f"\nall {len(chosen)} source(s) yield items")


@sources.command("suggest")
@_sources_file_option
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True,
              help="Suggest at most this many outlets (most articles first).")
def sources_suggest(sources_file: Path | None, limit: int) -> None:
    """List the publishers the search sources surfaced that no source covers yet, with their
    feeds and sitemaps, as YAML entries ready to paste into the sources file."""
    from crawler.source_check import PoliteFetcher
    from crawler.suggest import suggestions
    from indexer.archive import Archive

    settings = get_settings()
    path = _sources_path(settings, sources_file)
    configured = _load(path) if path.exists() else []
    publishers = Archive(settings).search_publishers(limit=max(limit * 3, 50))
    if not publishers:
        click.echo("no articles found by search sources yet: run `dealwatch crawl` with a search source first")
        return
    fetcher = PoliteFetcher(settings.user_agent.format(contact_url=settings.contact_url),
                            delay=max(settings.download_delay, settings.autothrottle_start_delay),
                            timeout=settings.download_timeout)
    try:
        found = suggestions(publishers, configured, fetcher, limit)
    finally:
        fetcher.close()
    if not found:
        click.echo(f"every publisher the search sources found is already covered by a source in {path}")
        return
    header = f"{'domain':<28} {'articles':>8} {'relevant':>8} {'lang':<4} {'last seen':<10} feeds sitemaps"
    click.echo(header)
    click.echo("-" * len(header))
    for s in found:
        seen = f"{s.last_seen:%Y-%m-%d}" if s.last_seen else "-"
        click.echo(f"{s.domain:<28} {s.articles:>8} {s.relevant_articles:>8} {s.lang:<4} {seen:<10} "
                   f"{len(s.feeds):>5} {len(s.sitemaps):>8}")
    click.echo(f"\n# paste under `sources:` in {path}, then run `dealwatch sources check NAME`")
    for s in found:
        click.echo(s.yaml())


COMMANDS = [crawl, status, reextract, repair, sources]   # `dealwatch schedule` is the daemon of dealwatch/daemon.py
