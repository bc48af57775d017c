"""The alerts' jobs in the scheduler daemon: timed alerts, after-crawl alerts, retries, source health.

:class:`AlertJobs` adds to the daemon's one APScheduler (``dealwatch/daemon.py`` builds it with the
crawl jobs of :mod:`crawler.scheduler`): a job store ``alerts`` held in memory — the truth is in the
cluster (saved searches, their state, the ledger), so a restarted daemon loses nothing — and an
executor ``alerts`` of its own, so deliveries never wait for a crawl slot. Its jobs:

* ``alert:<id>`` — each timed saved search (hourly, daily, weekly; cron in the alert's timezone).
  An alert that never ran, or whose recorded next run passed while no daemon ran, runs at once.
* ``after-crawl:<source>`` — queued when a crawl job of that source finished (APScheduler's
  job-executed event of the crawl job store): the after-crawl alerts whose search covers the source
  (its ``source`` filter names it, or it has none), then the source-health check of that source.
* ``alert-retry:<id>`` — one attempt at the time of the alert's ``next_attempt_at`` after a failure,
  or once ``alerts_lease`` has passed when another runner held the alert (it may have died holding it).
* ``source-health`` — every hour: problems that need time to show (a source gone quiet).

Listeners only queue work; :meth:`AlertJobs.pump`, called by the daemon's own loop, adds the jobs
and re-reads the saved searches every ``alerts_sync_interval`` seconds (created or edited in a UI
or the CLI), so nothing touches the scheduler from inside a job and a shutdown cannot deadlock.
"""

from __future__ import annotations

import logging
import queue
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from dealwatch.dates import utcnow
from dealwatch.settings import Settings
from indexer.archive import Archive
from indexer.errors import ArchiveError
from indexer.saved_searches import SavedSearch, Schedule
from alerts.health import HEALTH_ID, run_health
from alerts.runner import Outcome, run_alert

log = logging.getLogger(__name__)

STORE = "alerts"
EXECUTOR = "alerts"
ALERT = "alert:"
RETRY = "alert-retry:"
AFTER_CRAWL = "after-crawl:"
HEALTH_JOB = "source-health"
CRAWL_STORE = "default"      # crawler.scheduler keeps the crawl jobs there


def trigger_for(schedule: Schedule):
    """The APScheduler trigger of a timed schedule (the same fire times as ``Schedule.next_after``)."""
    if schedule.kind == "hourly":
        return CronTrigger(minute=0, timezone=timezone.utc)
    tz = ZoneInfo(schedule.tz)
    if schedule.kind == "daily":
        return CronTrigger(hour=schedule.hour, minute=schedule.minute, timezone=tz)
    if schedule.kind == "weekly":
        return CronTrigger(day_of_week=schedule.day, hour=schedule.hour, minute=schedule.minute, timezone=tz)
    raise ValueError(f"{schedule.text!r} is not a timed schedule")


class AlertJobs:
    """The alerts' part of the daemon's scheduler."""

    def __init__(self, scheduler: BaseScheduler, settings: Settings, archive: Archive | None = None):
        self.scheduler = scheduler
        self.settings = settings
        self.archive = archive or Archive(settings)
        self.inbox: queue.Queue = queue.Queue()
        self._last_sync = 0.0

    # --- wiring ----------------------------------------------------------------------------
    def install(self) -> None:
        self.archive.ensure_alerts()
        self.scheduler.add_jobstore(MemoryJobStore(), alias=STORE)
        self.scheduler.add_executor(ThreadPoolExecutor(max_workers=2), alias=EXECUTOR)
        self.scheduler.add_listener(self._on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        self.scheduler.add_job(self.check_health, IntervalTrigger(hours=1, timezone=timezone.utc), id=HEALTH_JOB,
                               name="source health", jobstore=STORE, executor=EXECUTOR, replace_existing=True,
                               coalesce=True, max_instances=1)
        self.sync()

    def pump(self) -> None:
        """Called by the daemon's loop: queued work becomes jobs; the saved searches are re-read when due."""
        while True:
            try:
                kind, arg, when = self.inbox.get_nowait()
            except queue.Empty:
                break
            if kind == "after-crawl":
                self._add(f"{AFTER_CRAWL}{arg}", self.after_crawl, [arg], DateTrigger(utcnow()), f"after crawl of {arg}")
            elif kind == "retry":
                self._add(f"{RETRY}{arg}", self.retry, [arg], DateTrigger(max(when, utcnow())), f"retry {arg}")
        if time.monotonic() - self._last_sync >= self.settings.alerts_sync_interval:
            try:
                self.sync()
            except ArchiveError as exc:
                log.error("saved searches not re-read (the alert jobs stay as they were): %s", exc)
                self._last_sync = time.monotonic()

    def _add(self, job_id: str, func, args: list, trigger, name: str) -> None:
        self.scheduler.add_job(func, trigger, args=args, id=job_id, name=name, jobstore=STORE, executor=EXECUTOR,
                               replace_existing=True, coalesce=True, max_instances=1,
                               misfire_grace_time=int(self.settings.scheduler_misfire_grace))

    def _on_event(self, event) -> None:
        """APScheduler's listener (runs in the job's thread): only queues work for :meth:`pump`."""
        if event.jobstore == CRAWL_STORE:
            self.inbox.put(("after-crawl", event.job_id, None))
            return
        outcomes = event.retval if isinstance(event.retval, list) else [event.retval]
        for outcome in outcomes:
            if isinstance(outcome, Outcome) and outcome.status == "failed" and outcome.next_attempt_at:
                self.inbox.put(("retry", outcome.alert_id, outcome.next_attempt_at))
            elif isinstance(outcome, Outcome) and outcome.status == "busy":
                # held by another runner - or by one that died holding it (a killed daemon with a digest
                # sent but not marked): try again once the lease has run out, not at the next schedule
                self.inbox.put(("retry", outcome.alert_id, utcnow() + timedelta(seconds=self.settings.alerts_lease)))

    # --- syncing with the saved searches ------------------------------------------------------
    def sync(self) -> dict[str, list[str]]:
        """One ``alert:<id>`` job per timed, active saved search with a channel; retries re-planned."""
        self._last_sync = time.monotonic()
        changes: dict[str, list[str]] = {"added": [], "replaced": [], "kept": [], "removed": []}
        now = utcnow()
        searches = {s.id: s for s in self.archive.saved_searches()}
        states = self.archive.alert_states()
        wanted = {f"{ALERT}{s.id}": s for s in searches.values() if s.schedule.timed and not s.paused and s.has_channel}
        for job_id, search in wanted.items():
            existing = self.scheduler.get_job(job_id, jobstore=STORE)
            name = f"alert {search.id} {search.schedule.text}"
            if existing is not None and existing.name == name:
                changes["kept"].append(search.id)
            else:
                state = states.get(search.id)
                missed = state is None or state.last_run_at is None or (
                    state.next_run_at is not None and state.next_run_at <= now
                    and state.last_run_at < state.next_run_at)
                first = {"next_run_time": now} if existing is None and missed else {}
                self.scheduler.add_job(self.run_one, trigger_for(search.schedule), args=[search.id], id=job_id,
                                       name=name, jobstore=STORE, executor=EXECUTOR, replace_existing=True,
                                       coalesce=True, max_instances=1,
                                       misfire_grace_time=int(self.settings.scheduler_misfire_grace), **first)
                changes["replaced" if existing is not None else "added"].append(search.id)
            self._record_next_run(search, states.get(search.id))
        for job in self.scheduler.get_jobs(jobstore=STORE):
            if job.id.startswith(ALERT) and job.id not in wanted:
                self.scheduler.remove_job(job.id, jobstore=STORE)
                changes["removed"].append(job.id[len(ALERT):])
            elif job.id.startswith(RETRY) and job.id[len(RETRY):] not in searches and job.id != f"{RETRY}{HEALTH_ID}":
                self.scheduler.remove_job(job.id, jobstore=STORE)
        for alert_id, state in states.items():
            active = alert_id == HEALTH_ID or (alert_id in searches and not searches[alert_id].paused)
            if state.next_attempt_at and active and self.scheduler.get_job(f"{RETRY}{alert_id}", jobstore=STORE) is None:
                self._add(f"{RETRY}{alert_id}", self.retry, [alert_id], DateTrigger(max(state.next_attempt_at, now)),
                          f"retry {alert_id}")
        if any(changes[k] for k in ("added", "replaced", "removed")):
            log.info("alert jobs: %s", ", ".join(f"{k} {len(v)}" for k, v in changes.items()))
        return changes

    def _record_next_run(self, search: SavedSearch, state) -> None:
        job = self.scheduler.get_job(f"{ALERT}{search.id}", jobstore=STORE)
        planned = job.next_run_time if job is not None else None
        if planned is not None and (state is None or state.next_run_at is None
                                    or abs((state.next_run_at - planned).total_seconds()) >= 1):
            self.archive.update_alert_state(search.id, next_run_at=planned)

    # --- the jobs (module state only through self; nothing here calls the scheduler) ----------
    def run_one(self, alert_id: str) -> Outcome:
        outcome = run_alert(self.archive, self.settings, alert_id)
        search = self.archive.saved_search(alert_id)
        if search is not None and search.schedule.timed:
            self.archive.update_alert_state(alert_id, next_run_at=search.schedule.next_after(utcnow()))
        log.info("alert %s: %s", alert_id, outcome.line())
        return outcome

    def retry(self, alert_id: str) -> Outcome:
        if alert_id == HEALTH_ID:
            return self.check_health()
        outcome = run_alert(self.archive, self.settings, alert_id)
        log.info("alert %s (retry): %s", alert_id, outcome.line())
        return outcome

    def after_crawl(self, source: str) -> list[Outcome]:
        """The after-crawl alerts whose search covers ``source``, then that source's health."""
        outcomes = []
        for search in self.archive.saved_searches():
            if search.schedule.kind != "after-crawl" or search.paused or not search.has_channel:
                continue
            if search.sources and source not in search.sources:
                continue
            outcome = run_alert(self.archive, self.settings, search.id)
            log.info("alert %s after the crawl of %s: %s", search.id, source, outcome.line())
            outcomes.append(outcome)
        outcomes.append(self.check_health([source]))
        return outcomes

    def check_health(self, sources: list[str] | None = None) -> Outcome:
        outcome = run_health(self.archive, self.settings, sources)
        if outcome.status not in ("no-channel", "nothing-new"):
            log.info("source health: %s", outcome.line())
        return outcome


def next_runs(jobs: AlertJobs) -> dict[str, datetime | None]:
    """Alert id -> the next run of its job in this daemon (for logs and tests)."""
    return {j.id[len(ALERT):]: j.next_run_time for j in jobs.scheduler.get_jobs(jobstore=STORE)
            if j.id.startswith(ALERT)}

