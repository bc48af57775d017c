"""The crawl jobs of the scheduler daemon (``dealwatch schedule``): one APScheduler job per source.

* APScheduler 3.x ``BackgroundScheduler``; the daemon's serve loop (signals, SIGHUP reload, stop)
  is ``dealwatch/daemon.py``, which adds the alerts' jobs (``alerts/jobs.py``) to the same scheduler.
* Job store: ``SQLAlchemyJobStore`` at ``settings.scheduler_url`` (SQLite file
  ``<data_dir>/scheduler.sqlite`` by default, any SQLAlchemy URL via
  ``DEALWATCH_SCHEDULER_DB_URL``). Job ids are source names. On start the jobs are synced
  with the sources YAML: an unchanged job keeps its stored next run time (a restart neither
  runs it again nor postpones it), a changed schedule replaces the job, a source that left
  the YAML loses its job. A run missed while the daemon was down runs once if it is at most
  ``scheduler_misfire_grace`` seconds late (``coalesce=True``).
* ``max_instances=1`` per job, and the per-source lock (:mod:`crawler.locks`, held by the crawl
  process itself) also keeps ``dealwatch crawl``, a second daemon and a crawl left running by a
  killed daemon from overlapping with it. On start the daemon records runs kept while the archive
  was down and adopts such left-over crawls (:func:`adopt_orphans`): watched, then recorded.
* Each job calls :func:`scheduled_crawl`, which hands the source to
  :func:`crawler.supervisor.supervise_crawl`: the crawl runs in its own process.
* SIGTERM/SIGINT: no new runs start; running crawls get SIGTERM (Scrapy stops; the known-URL
  store and the WARC let the next run resume) and the daemon waits for them (:func:`stop`). SIGHUP
  re-reads the YAML (:func:`reload`).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.sources import Schedule, Source, SourcesError, load_sources
from dealwatch.dates import utcnow
from dealwatch.settings import Settings, get_settings

log = logging.getLogger(__name__)

JOBS_TABLE = "dealwatch_scheduler_jobs"


class ScheduleError(ValueError):
    pass


# --- triggers ---------------------------------------------------------------------------

def trigger_for(schedule: Schedule, jitter: float | None = None):
    """The trigger of a source's schedule (the loader's :class:`~crawler.sources.Schedule`: every
    ``interval`` seconds, or a 5-field ``cron`` line in UTC), with up to ``jitter`` seconds of
    random delay added to each run."""
    jitter_s = int(jitter) if jitter else None
    if schedule.cron is None:
        return IntervalTrigger(seconds=schedule.interval, jitter=jitter_s, timezone=timezone.utc)
    try:
        trigger = CronTrigger.from_crontab(schedule.cron, timezone=timezone.utc)
    except ValueError as exc:
        raise ScheduleError(f"schedule cron {schedule.cron!r}: invalid crontab line: {exc}") from exc
    trigger.jitter = jitter_s
    return trigger


def _signature(trigger) -> str:
    return f"{trigger}|jitter={trigger.jitter}"


# --- the scheduler ----------------------------------------------------------------------

def make_scheduler(settings: Settings) -> BackgroundScheduler:
    url = settings.scheduler_url
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    return BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=settings.scheduler_url, tablename=JOBS_TABLE)},
        executors={"default": ThreadPoolExecutor(max_workers=max(1, settings.scheduler_max_crawls))},
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": int(settings.scheduler_misfire_grace)},
        timezone=timezone.utc,
    )


def scheduled_crawl(source_name: str, sources_file: str | None = None) -> str:
    """The job every source's schedule calls (module-level: the job store keeps a reference)."""
    from crawler.supervisor import supervise_crawl

    settings = get_settings()
    path = sources_file or str(settings.sources_file)
    matches = [s for s in load_sources(path) if s.name == source_name]
    if not matches:
        log.error("scheduled source %s is no longer in %s; skipping (restart or SIGHUP the scheduler to drop it)",
                  source_name, path)
        return "missing"

    def next_run() -> datetime | None:
        # read from the job store directly: the scheduler's own lock may be held by a shutdown
        # that waits for this very job
        return next_run_times(settings).get(source_name)

    return _counted(lambda: supervise_crawl(matches[0], settings, sources_file=path, trigger="schedule",
                                            next_run_at=next_run)).status


class _RunningJobs(threading.Condition):
    count = 0


_jobs_running = _RunningJobs()


def _counted(work):
    """Run a crawl's supervision so that :func:`stop` waits for it."""
    with _jobs_running:
        _jobs_running.count += 1
    try:
        return work()
    finally:
        with _jobs_running:
            _jobs_running.count -= 1
            _jobs_running.notify_all()


def adopt_orphans(settings: Settings) -> list[str]:
    """Crawls a killed daemon left running go on under this one: each is watched (time limit, our
    shutdown) and recorded when it ends, while its lock keeps the source's scheduled runs from starting
    a second crawl. Runs that ended unrecorded meanwhile are recorded. Returns the adopted sources."""
    from crawler.supervisor import find_orphans, supervise_orphan

    def next_run(name: str) -> datetime | None:
        return next_run_times(settings).get(name)

    orphans = find_orphans(settings, next_run)
    for holder in orphans:
        threading.Thread(target=_counted, name=f"adopted-{holder.source}", daemon=True,
                         args=(lambda h=holder: supervise_orphan(h, settings, next_run_at=lambda: next_run(h.source)),
                               )).start()
    return [h.source for h in orphans]


def sync_jobs(scheduler: BackgroundScheduler, sources: list[Source], settings: Settings,
              sources_file: str | Path | None = None) -> dict[str, list[str]]:
    """Make the job store hold exactly one job per source, keeping unchanged jobs' next run times."""
    changes: dict[str, list[str]] = {"added": [], "replaced": [], "kept": [], "removed": []}
    wanted = {source.name: trigger_for(source.schedule, settings.scheduler_jitter) for source in sources}
    path_arg = str(sources_file) if sources_file else None
    for name, trigger in wanted.items():
        job_args = [name, path_arg]
        existing = scheduler.get_job(name)
        if existing is not None and _signature(existing.trigger) == _signature(trigger) \
                and list(existing.args) == job_args:
            changes["kept"].append(name)
            continue
        # a source new to the store runs right away (its first crawl should not wait a whole
        # interval); a changed schedule takes effect from its next fire time
        first_run = {"next_run_time": utcnow()} if existing is None else {}
        scheduler.add_job(scheduled_crawl, trigger, args=job_args, id=name, name=f"crawl {name}",
                          replace_existing=True, **first_run)
        changes["replaced" if existing is not None else "added"].append(name)
    for job in scheduler.get_jobs(jobstore="default"):      # the crawl jobs' store (alerts keep their own)
        if job.id not in wanted:
            scheduler.remove_job(job.id)
            changes["removed"].append(job.id)
    return changes


def _load_and_register(settings: Settings, sources_file: str | Path | None) -> list[Source]:
    """The sources of the YAML, registered with the archive (every UI's /sources lists them)."""
    from indexer.archive import Archive

    sources = load_sources(sources_file or settings.sources_file)
    archive = Archive(settings)
    archive.ensure()   # before parallel runs record into it
    archive.register_sources(s.configured() for s in sources)
    return sources


def start(settings: Settings, sources_file: str | Path | None = None) -> BackgroundScheduler:
    """Start the scheduler (in background threads) with its jobs synced to the sources YAML."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sources = _load_and_register(settings, sources_file)
    scheduler = make_scheduler(settings)
    scheduler.start(paused=True)
    try:
        changes = sync_jobs(scheduler, sources, settings, sources_file)
    except BaseException:
        scheduler.shutdown(wait=False)
        raise
    log.info("scheduler: %s", ", ".join(f"{k} {len(v)}" for k, v in changes.items()))
    for job in scheduler.get_jobs():
        log.info("  %-28s next run %s  (%s)", job.id, _fmt(job.next_run_time), job.trigger)
    from crawler import pending_runs
    pending_runs.replay(settings)           # runs the archive could not take before
    adopted = adopt_orphans(settings)
    if adopted:
        log.info("adopted running crawl(s) of %s", ", ".join(adopted))
    scheduler.resume()
    return scheduler


def stop(scheduler: BackgroundScheduler) -> None:
    """Stop cleanly: no new runs, running crawls stopped resumably, wait for them."""
    from crawler.supervisor import stop_running_crawls
    scheduler.pause()
    stopped = stop_running_crawls()
    if stopped:
        log.info("waiting for %d running crawl(s) to stop", stopped)
    # wait for the jobs before shutdown(): APScheduler's shutdown holds its job-store lock
    # while it waits for running jobs
    with _jobs_running:
        _jobs_running.wait_for(lambda: _jobs_running.count == 0, timeout=None)
    scheduler.shutdown(wait=True)


def reload(scheduler: BackgroundScheduler, settings: Settings, sources_file: str | Path | None = None
           ) -> dict[str, list[str]]:
    """Re-read the sources YAML and sync the crawl jobs with it (the daemon's SIGHUP, ``dealwatch/daemon.py``);
    raises SourcesError or ScheduleError when the file does not load, and the jobs stay as they were."""
    sources = _load_and_register(settings, sources_file)
    return sync_jobs(scheduler, sources, settings, sources_file)


# --- reading the job store without running it (dealwatch status) ------------------------

def next_run_times(settings: Settings) -> dict[str, datetime | None]:
    """Job id (source name) -> next run time, read from the job store; {} when there is none."""
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.exc import SQLAlchemyError

    url = settings.scheduler_url
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        return {}
    try:
        engine = create_engine(url)
        try:
            if not inspect(engine).has_table(JOBS_TABLE):
                return {}
            with engine.connect() as conn:
                rows = conn.execute(text(f"SELECT id, next_run_time FROM {JOBS_TABLE}")).all()
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        log.warning("could not read the scheduler's job store %s: %s", url, exc)
        return {}
    return {row[0]: datetime.fromtimestamp(row[1], timezone.utc) if row[1] is not None else None for row in rows}


def _fmt(when: datetime | None) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if when else "paused"
