"""Commands of the crawl jobs: ``dealwatch crawl``, ``dealwatch schedule``, ``dealwatch status``.

``crawl`` runs chosen sources once, by hand, each in its own crawl process (the same job the
scheduler runs), with a live progress line and a final per-source report. ``schedule`` is
the daemon. ``status`` reads the run history and the scheduler's job store.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import click

from dealwatch.settings import Settings, get_settings

log = logging.getLogger(__name__)

_sources_file_option = click.option(
    "--sources-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Sources YAML (default: seeds/sources.yaml, or DEALWATCH_SOURCES_FILE).")


def _sources_path(settings: Settings, sources_file: Path | None) -> Path:
    return sources_file or Path(settings.sources_file)


def _load(path: Path):
    from crawler.sources import load_sources
    try:
        return load_sources(path)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read sources from {path}: {exc}") from exc


# --- live progress --------------------------------------------------------------------

class ProgressBoard:
    """Keeps the latest progress of every running source and shows it: one ``\\r`` line on a
    terminal, a log line per source every ``log_every`` seconds otherwise."""

    def __init__(self, total: int, tty: bool, log_every: float = 10.0):
        self.total = total
        self.tty = tty
        self.log_every = log_every
        self.latest: dict[str, object] = {}
        self.done = 0
        self._last_log: dict[str, float] = {}
        self._lock = threading.Lock()
        self._width = 0

    def update(self, progress) -> None:
        with self._lock:
            self.latest[progress.source] = progress
            if self.tty:
                self._draw()
            elif time.monotonic() - self._last_log.get(progress.source, 0.0) >= self.log_every:
                self._last_log[progress.source] = time.monotonic()
                log.info("progress %s", progress.line())

    def finished(self, record) -> None:
        with self._lock:
            self.done += 1
            self.latest.pop(record.source, None)
            self._clear()
            click.echo(f"[{self.done}/{self.total}] {record.source}: {record.status} — {record.pages_fetched} pages, "
                       f"{record.articles.get('new', 0)} new, {record.articles.get('updated', 0)} updated, "
                       f"{record.errors_total} errors ({record.duration_s or 0:.0f}s)")
            if self.tty and self.latest:
                self._draw()

    def _draw(self) -> None:
        running = list(self.latest.values())
        pages = sum(p.pages_fetched for p in running)
        new = sum(p.articles.get("new", 0) for p in running)
        updated = sum(p.articles.get("updated", 0) for p in running)
        errors = sum(p.errors_total for p in running)
        names = ",".join(p.source for p in running)
        line = (f"crawling {names or '…'} | done {self.done}/{self.total} | pages {pages} | new {new} | "
                f"updated {updated} | errors {errors}")
        pad = max(0, self._width - len(line))
        sys.stdout.write("\r" + line + " " * pad)
        sys.stdout.flush()
        self._width = len(line)

    def _clear(self) -> None:
        if self.tty and self._width:
            sys.stdout.write("\r" + " " * self._width + "\r")
            sys.stdout.flush()
            self._width = 0


def _report(records) -> None:
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


# --- commands -------------------------------------------------------------------------

@click.command("crawl")
@click.argument("names", nargs=-1)
@_sources_file_option
@click.option("-j", "--parallel", type=click.IntRange(1, 16), default=None,
              help="Sources crawled at the same time (default: setting crawl_parallelism).")
def crawl(names: tuple[str, ...], sources_file: Path | None, parallel: int | None) -> None:
    """Crawl SOURCES (default: all) once, now, each in its own crawl process."""
    from crawler.jobs import new_run_id, run_source
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
        record = run_source(source, settings, run_id=run_id, sources_file=path, on_progress=board.update)
        board.finished(record)
        return record

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crawl") as pool:
        try:
            records = list(pool.map(one, sources))
        except KeyboardInterrupt:
            from crawler.jobs import stop_running_crawls
            stop_running_crawls()
            raise
    board._clear()
    _report(records)
    if all(r.status in ("failed", "timed_out", "skipped") for r in records):
        sys.exit(1)


@click.command("schedule")
@_sources_file_option
def schedule(sources_file: Path | None) -> None:
    """Run the scheduler daemon: every source crawled on its own schedule (stop with Ctrl-C/SIGTERM)."""
    from crawler import schedule as scheduler_module
    settings = get_settings()
    path = _sources_path(settings, sources_file)
    _load(path)  # fail early with a clear message
    click.echo(f"scheduler: sources {path}, job store {settings.scheduler_url}")
    try:
        scheduler_module.run_daemon(settings, path)
    except scheduler_module.ScheduleError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("scheduler stopped")


def _when(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if value else "-"


@click.command("status")
@_sources_file_option
def status(sources_file: Path | None) -> None:
    """Per source: last run, next run, totals and last error."""
    from crawler.schedule import next_run_times
    from indexer.archive import Archive

    settings = get_settings()
    path = _sources_path(settings, sources_file)
    names = [s.name for s in _load(path)] if path.exists() else []
    summaries = Archive(settings).source_summaries()
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


COMMANDS = [crawl, schedule, status]
