"""The scheduler daemon with second-scale schedules: a real APScheduler with its SQLite job
store, real crawl processes against the local demo sites, the run history in the real
Elasticsearch node.

Specification:
* jobs fire on their schedule and write run history (trigger "schedule", next run time);
* runs of one source never overlap;
* a restarted scheduler (same job store) keeps the schedule: it neither runs again what has
  just run nor postpones the next run, and it keeps running on schedule;
* a source removed from the sources file loses its job; a changed schedule replaces it.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from crawler import scheduler as crawl_scheduler
from crawler.sources import load_sources
from dealwatch.settings import get_settings, set_settings
from indexer import run_history as runs, store
from indexer.client import make_client
from jobs_helpers import isolated_settings, serve_demo, write_sources

SOURCE = "baltic-ledger"


@pytest.fixture(scope="module")
def demo():
    sites = serve_demo()
    yield sites
    sites.stop()


@pytest.fixture()
def sched_settings(settings, tmp_path, request):
    s = isolated_settings(settings, tmp_path, request.node.name[-12:].lower().replace("_", "-"),
                          scheduler_jitter=0.0, scheduler_misfire_grace=30.0, crawl_time_limit=60.0,
                          extract_workers=1)
    runs.ensure_runs_index(make_client(s), s)
    previous = get_settings()
    set_settings(s)          # the scheduled job reads the process-wide settings
    yield s
    set_settings(previous)
    store.drop_all(make_client(s), s)


def _wait_for_runs(es, s, n: int, timeout: float) -> list[runs.RunRecord]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = runs.last_runs(es, s, source=SOURCE, n=50)
        if len(found) >= n:
            return sorted(found, key=lambda r: r.started_at)
        time.sleep(0.5)
    raise AssertionError(f"only {len(runs.last_runs(es, s, source=SOURCE, n=50))} of {n} runs within {timeout}s")


def _same_time(a: datetime, b: datetime) -> bool:
    return abs((a - b).total_seconds()) < 0.001   # the job store keeps float timestamps


def _wait_idle(scheduler, timeout: float = 60.0) -> None:
    """Wait until no scheduled crawl is running in this process."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and crawl_scheduler._jobs_running.count:
        time.sleep(0.2)


def test_jobs_fire_on_schedule_never_overlap_and_write_run_history(es, sched_settings, demo, tmp_path):
    sources = write_sources(demo, tmp_path / "sources.yaml", [SOURCE], schedule={"interval": "2s"},
                            time_limit="60s")
    scheduler = crawl_scheduler.start(sched_settings, sources)
    try:
        history = _wait_for_runs(es, sched_settings, 2, timeout=150)
    finally:
        crawl_scheduler.stop(scheduler)
    history = runs.last_runs(es, sched_settings, source=SOURCE, n=50)[::-1]
    assert len(history) >= 2
    for earlier, later in zip(history, history[1:]):
        assert earlier.ended_at <= later.started_at, "two runs of one source overlapped"
    assert all(r.trigger == "schedule" for r in history)
    assert all(r.status in ("ok", "partial") for r in history), [(r.status, r.last_error) for r in history]
    assert all(r.next_run_at is not None and r.next_run_at > r.started_at for r in history)
    assert history[0].articles["new"] > 0                      # the first run archives the site
    assert all(r.articles["new"] == 0 for r in history[1:])    # later runs find nothing new
    assert store.count(es, sched_settings, {"term": {"source": SOURCE}}) == history[0].articles["new"]


def test_a_restarted_scheduler_keeps_its_schedule_without_double_runs(es, sched_settings, demo, tmp_path):
    sources = write_sources(demo, tmp_path / "sources.yaml", [SOURCE], schedule={"interval": "90s"},
                            time_limit="60s")
    first = crawl_scheduler.start(sched_settings, sources)   # a new source: its first run starts at once
    try:
        [run1] = _wait_for_runs(es, sched_settings, 1, timeout=80)
        _wait_idle(first)
        planned = first.get_job(SOURCE).next_run_time
    finally:
        crawl_scheduler.stop(first)
    assert planned > run1.ended_at
    assert _same_time(run1.next_run_at, planned)             # recorded in the run history

    second = crawl_scheduler.start(sched_settings, sources)  # same SQLite job store
    try:
        assert _same_time(second.get_job(SOURCE).next_run_time, planned)  # neither rescheduled nor run again
        assert _same_time(crawl_scheduler.next_run_times(sched_settings)[SOURCE], planned)
        time.sleep(3)
        assert len(runs.last_runs(es, sched_settings, source=SOURCE)) == 1, "ran again right after the restart"
    finally:
        crawl_scheduler.stop(second)
    assert _same_time(crawl_scheduler.next_run_times(sched_settings)[SOURCE], planned)


def test_the_job_store_follows_the_sources_file(sched_settings, demo, tmp_path):
    two = write_sources(demo, tmp_path / "two.yaml", [SOURCE, "harbour-tribune"], schedule={"interval": "1h"})
    scheduler = crawl_scheduler.make_scheduler(sched_settings)
    scheduler.start(paused=True)
    try:
        sources = load_sources(two)
        assert crawl_scheduler.sync_jobs(scheduler, sources, sched_settings, two)["added"] == [SOURCE, "harbour-tribune"]
        kept = scheduler.get_job(SOURCE).next_run_time
        again = crawl_scheduler.sync_jobs(scheduler, sources, sched_settings, two)
        assert again["kept"] == [SOURCE, "harbour-tribune"] and scheduler.get_job(SOURCE).next_run_time == kept

        one = write_sources(demo, tmp_path / "two.yaml", [SOURCE], schedule={"cron": "*/5 * * * *"})
        sources = load_sources(one)
        changes = crawl_scheduler.sync_jobs(scheduler, sources, sched_settings, one)
        assert changes["replaced"] == [SOURCE] and changes["removed"] == ["harbour-tribune"]
        assert [j.id for j in scheduler.get_jobs()] == [SOURCE]
        assert scheduler.get_job(SOURCE).next_run_time.minute % 5 == 0
    finally:
        scheduler.shutdown(wait=False)


def test_runs_missed_while_the_scheduler_was_down_run_once(es, sched_settings, demo, tmp_path):
    from apscheduler.events import EVENT_JOB_SUBMITTED

    sources = write_sources(demo, tmp_path / "sources.yaml", [SOURCE], schedule={"interval": "2s"},
                            time_limit="60s")
    first = crawl_scheduler.start(sched_settings, sources)
    try:
        _wait_for_runs(es, sched_settings, 1, timeout=120)
        _wait_idle(first)
    finally:
        crawl_scheduler.stop(first)
    stored = crawl_scheduler.next_run_times(sched_settings)[SOURCE]
    runs_before = len(runs.last_runs(es, sched_settings, source=SOURCE))
    # at least two fire times pass while it is down
    time.sleep(max(0.0, (stored - datetime.now(timezone.utc)).total_seconds()) + 2 * 2 + 0.5)

    submitted = []
    second = crawl_scheduler.make_scheduler(sched_settings)
    second.add_listener(lambda event: submitted.append(event.scheduled_run_times), EVENT_JOB_SUBMITTED)
    second.start(paused=True)
    sources_list = load_sources(sources)
    assert crawl_scheduler.sync_jobs(second, sources_list, sched_settings, sources)["kept"] == [SOURCE]
    second.resume()
    try:
        deadline = time.monotonic() + 10
        while not submitted and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        crawl_scheduler.stop(second)                        # the catch-up crawl is stopped, resumably
    # with coalesce=True APScheduler submits one run, for the latest of the due fire times
    assert len(submitted) == 1 and len(submitted[0]) == 1
    assert submitted[0][0] >= stored + timedelta(seconds=2 * 2 - 0.01)   # >= 3 fire times were due
    assert len(runs.last_runs(es, sched_settings, source=SOURCE)) == runs_before + 1   # one catch-up run
