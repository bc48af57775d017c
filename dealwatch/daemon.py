"""The scheduler daemon, ``dealwatch schedule``: one APScheduler for the crawl jobs and the alert jobs.

Its serve loop: start the scheduler with the crawl jobs synced to the sources YAML
(:func:`crawler.scheduler.start`), add the alerts' job store, executor, jobs and listener
(:class:`alerts.jobs.AlertJobs`: after-crawl alerts follow the crawl jobs' job-executed events),
then wait. SIGTERM/SIGINT stop it cleanly (:func:`crawler.scheduler.stop`: no new runs, running
crawls stopped resumably, running deliveries finished); SIGHUP re-reads the sources YAML and the
saved searches. The loop also hands the alerts' queued work to the scheduler every second. It
lives above ``crawler`` and ``alerts`` (siblings that may not import each other), beside the demo.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import click

from alerts.jobs import AlertJobs
from crawler import scheduler as crawl_scheduler
from crawler.sources import SourcesError, load_sources
from dealwatch.settings import Settings, get_settings
from indexer.errors import ArchiveError

log = logging.getLogger(__name__)

TICK = 1.0     # seconds between two looks at the alerts' queued work


def serve(settings: Settings, sources_file: str | Path | None = None,
          stop_event: threading.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or ``stop_event``); SIGHUP re-reads the sources YAML (a file that does
    not load is reported and the jobs stay as they were) and the saved searches."""
    stop_event = stop_event or threading.Event()
    reload_event = threading.Event()
    scheduler = crawl_scheduler.start(settings, sources_file)
    try:
        alert_jobs = AlertJobs(scheduler, settings)
        alert_jobs.install()
    except BaseException:
        crawl_scheduler.stop(scheduler)
        raise

    def on_stop(signum, _frame):
        log.info("received %s: stopping the scheduler", signal.Signals(signum).name)
        stop_event.set()

    def on_reload(_signum, _frame):
        reload_event.set()
        stop_event.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig, handler in ((signal.SIGTERM, on_stop), (signal.SIGINT, on_stop), (signal.SIGHUP, on_reload)):
            previous[sig] = signal.signal(sig, handler)
    try:
        while True:
            stop_event.wait(TICK)
            if reload_event.is_set():
                reload_event.clear()
                stop_event.clear()
                try:
                    log.info("reloaded sources: %s", crawl_scheduler.reload(scheduler, settings, sources_file))
                except (SourcesError, crawl_scheduler.ScheduleError) as exc:
                    log.error("sources not reloaded, the jobs stay as they were: %s", exc)
                try:
                    log.info("reloaded saved searches: %s", alert_jobs.sync())
                except ArchiveError as exc:
                    log.error("saved searches not reloaded, the alert jobs stay as they were: %s", exc)
                continue
            if stop_event.is_set():
                break
            alert_jobs.pump()
    finally:
        crawl_scheduler.stop(scheduler)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@click.command("schedule")
@click.option("--sources-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Sources YAML (default: seeds/sources.yaml, or DEALWATCH_SOURCES_FILE).")
def schedule(sources_file: Path | None) -> None:
    """Run the scheduler daemon: every source crawled on its own schedule, every alert delivered on its own
    (stop with Ctrl-C/SIGTERM, reload with SIGHUP)."""
    settings = get_settings()
    path = sources_file or Path(settings.sources_file)
    try:
        load_sources(path)  # fail early with a clear message
    except SourcesError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"scheduler: sources {path}, job store {settings.scheduler_url}")
    try:
        serve(settings, path)
    except crawl_scheduler.ScheduleError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("scheduler stopped")


COMMANDS = [schedule]
