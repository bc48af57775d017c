"""The crawl supervisor's process handling: time limit, status classification, lock, recording.

These tests replace ``python -m crawler.crawl_process`` by a tiny stand-in script that follows the crawl
process's contract (stats JSON written atomically, exit code, the lock descriptor handed over on
``--lock-fd``, a log that starts with a settings dump like Scrapy's), because they are about the
runner, not the crawler: a crawl that hangs, ignores SIGTERM, crashes, is killed, or outlives its
supervisor must be handled the same whatever the crawler does. The real crawler is exercised by
test_schedule*, test_incremental* and test_resume*.

Specification of what never goes missing:
* a crawl killed by a signal is a failed run "killed (signal 9, SIGKILL)", never a line of its log;
* a run that ends while the archive is down is kept (``<state_dir>/pending-runs``) and recorded,
  exactly once, at the next opportunity: ``dealwatch status``, the next run, the scheduler's start;
* the source's lock lives as long as the crawl, not its supervisor: a supervisor killed mid-crawl
  leaves the crawl holding it (a second crawl of the source is skipped), and the orphan is adopted
  and recorded — or, when it ended meanwhile, recorded by the next supervisor of the source.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from crawler import pending_runs, scheduler, supervisor
from crawler.locks import SourceLock
from dealwatch.processes import pid_alive
from indexer import run_history as runs

FAKE_CRAWL = textwrap.dedent('''
    import argparse, json, os, signal, sys, time
    p = argparse.ArgumentParser()
    p.add_argument("--sources"); p.add_argument("--stats-file"); p.add_argument("--run-id")
    p.add_argument("--sources-file"); p.add_argument("--lock-fd")
    a = p.parse_args()
    mode = os.environ["FAKE_MODE"]
    # the start of a real crawl log: Scrapy's settings dump, with words that look like errors
    print("2026-12-01 21:00:00 [scrapy.crawler] INFO: Overridden settings:", flush=True)
    print(" 'RETRY_EXCEPTIONS': ['scrapy.exceptions.DownloadTimeoutError',", flush=True)
    print("                      'twisted.internet.error.TCPTimedOutError'],", flush=True)
    stats = {"run_id": a.run_id, "finished": False, "sources": {a.sources: {
        "pages_fetched": 0, "requests": 0, "articles": {"new": 0, "updated": 0, "unchanged": 0, "dropped": 0},
        "dropped_reasons": {"no_text": 0}, "errors": {"http_404": 0, "dns": 0}, "error_samples": [],
        "finish_reason": ""}}}
    s = stats["sources"][a.sources]
    def write():
        tmp = a.stats_file + ".tmp"
        with open(tmp, "w") as fh: json.dump(stats, fh)
        os.replace(tmp, a.stats_file)
    stop = []
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, lambda *_: None)
    else:
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    if mode == "crash":
        print("ERROR: ValueError: the spider could not start", flush=True)
        sys.exit(3)
    steps = int(os.environ.get("FAKE_STEPS", 6)) if mode in ("ok", "partial", "nothing") else 10_000
    for i in range(steps):
        if stop:
            s["finish_reason"] = "shutdown"; break
        if mode != "nothing":
            s["pages_fetched"] += 1; s["requests"] += 1; s["articles"]["new"] += 1
        write(); time.sleep(0.2)
    else:
        s["finish_reason"] = "finished"
    if mode == "partial":
        s["errors"]["http_404"] = 2; s["articles"]["dropped"] = 1; s["dropped_reasons"]["no_text"] = 1
        s["error_samples"] = [{"url": "http://127.0.0.2/gone", "kind": "http_404", "message": "Not Found"}]
    if mode == "nothing":
        s["errors"]["dns"] = 1
        s["error_samples"] = [{"url": "http://nowhere.invalid/", "kind": "dns", "message": "no such host"}]
    stats["finished"] = True
    write()
''')


@pytest.fixture()
def fake_crawl(tmp_path, monkeypatch):
    script = tmp_path / "fake_crawl.py"
    script.write_text(FAKE_CRAWL)

    def command(mode: str) -> list[str]:
        monkeypatch.setenv("FAKE_MODE", mode)
        return [sys.executable, str(script)]
    return command


@pytest.fixture()
def job_settings(settings, tmp_path):
    return settings.replace(data_dir=tmp_path / "data", crawl_stop_grace=1.0)


def _source(name: str, limit: float | None = 30) -> SimpleNamespace:
    return SimpleNamespace(name=name, time_limit=limit)


def test_a_completed_crawl_is_ok_recorded_and_reports_live_progress(es, job_settings, fake_crawl):
    seen = []
    record = supervisor.supervise_crawl(_source("fake-ok"), job_settings, on_progress=seen.append,
                             crawl_command=fake_crawl("ok"))
    assert record.status == "ok"
    assert record.pages_fetched == 6 and record.articles["new"] == 6
    assert record.exit_code == 0 and record.finish_reason == "finished"
    pages = [p.pages_fetched for p in seen]
    assert pages == sorted(pages) and 0 < pages[0] < 6 and pages[-1] == 6   # live, not only at the end
    [stored] = runs.last_runs(es, job_settings, source="fake-ok")
    assert stored.run_id == record.run_id and stored.status == "ok" and stored.articles["new"] == 6


def test_page_errors_make_a_partial_run_with_reasons(job_settings, fake_crawl):
    record = supervisor.supervise_crawl(_source("fake-partial"), job_settings, crawl_command=fake_crawl("partial"), record=False)
    assert record.status == "partial"
    assert record.errors == {"http_404": 2}
    assert record.dropped_reasons == {"no_text": 1}
    assert "http://127.0.0.2/gone" in record.last_error


def test_nothing_fetched_is_a_failed_run(job_settings, fake_crawl):
    record = supervisor.supervise_crawl(_source("fake-dead"), job_settings, crawl_command=fake_crawl("nothing"), record=False)
    assert record.status == "failed"
    assert "nothing fetched" in record.last_error and "no such host" in record.last_error


def test_a_crashing_crawl_process_is_failed_with_its_error(job_settings, fake_crawl):
    record = supervisor.supervise_crawl(_source("fake-crash"), job_settings, crawl_command=fake_crawl("crash"), record=False)
    assert record.status == "failed" and record.exit_code == 3
    assert "could not start" in record.last_error


def test_a_hanging_crawl_is_stopped_at_its_time_limit(job_settings, fake_crawl):
    t0 = time.monotonic()
    record = supervisor.supervise_crawl(_source("fake-hang", limit=1.5), job_settings, crawl_command=fake_crawl("hang"),
                             record=False)
    assert record.status == "timed_out"
    assert record.finish_reason == "shutdown"          # it got SIGTERM and stopped itself
    assert record.pages_fetched > 0
    assert time.monotonic() - t0 < 1.5 + 2 * job_settings.crawl_stop_grace + 3


def test_a_source_without_its_own_time_limit_is_stopped_at_the_crawl_time_limit_setting(job_settings, fake_crawl):
    s = job_settings.replace(crawl_time_limit=1.5)
    t0 = time.monotonic()
    record = supervisor.supervise_crawl(_source("fake-default-limit", limit=None), s, crawl_command=fake_crawl("hang"),
                                        record=False)
    assert record.status == "timed_out"
    assert "time limit of 2s" in record.last_error               # 1.5 s, as the setting says
    assert time.monotonic() - t0 < 1.5 + 2 * s.crawl_stop_grace + 3


def test_a_crawl_ignoring_sigterm_is_killed(job_settings, fake_crawl):
    t0 = time.monotonic()
    record = supervisor.supervise_crawl(_source("fake-stubborn", limit=1.0), job_settings,
                             crawl_command=fake_crawl("stubborn"), record=False)
    assert record.status == "timed_out"
    assert record.exit_code == -9
    assert time.monotonic() - t0 < 1.0 + 2 * job_settings.crawl_stop_grace + 3


def test_a_second_crawl_of_the_same_source_is_skipped_while_one_runs(job_settings, fake_crawl):
    command = fake_crawl("ok")
    first: list = []
    thread = threading.Thread(target=lambda: first.append(
        supervisor.supervise_crawl(_source("fake-lock"), job_settings, crawl_command=command, record=False)))
    thread.start()
    time.sleep(0.5)
    second = supervisor.supervise_crawl(_source("fake-lock"), job_settings, crawl_command=command, record=False)
    thread.join()
    assert second.status == "skipped"
    assert first[0].status == "ok"
    # once the first has ended, the source can run again
    assert supervisor.supervise_crawl(_source("fake-lock"), job_settings, crawl_command=command, record=False).status == "ok"


# --- what never goes missing from the run history ----------------------------------------------

def _wait_for(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _running_crawl_pid(settings, name: str) -> int:
    """The pid of the crawl of ``name``, as its lock file names it, once it has counted a page."""
    lock = SourceLock(settings, name)

    def started():
        holder = lock.holder()
        stats = supervisor.read_stats_file(Path(holder.stats_file)) if holder and holder.crawl_pid else None
        return stats and stats["sources"][name]["pages_fetched"] > 0
    _wait_for(started, f"the crawl of {name} did not start")
    return lock.holder().crawl_pid


def test_a_crawl_killed_by_a_signal_is_a_failed_run_killed_by_that_signal(job_settings, fake_crawl):
    command = fake_crawl("hang")
    result: list = []
    thread = threading.Thread(target=lambda: result.append(
        supervisor.supervise_crawl(_source("fake-killed"), job_settings, crawl_command=command, record=False)))
    thread.start()
    os.kill(_running_crawl_pid(job_settings, "fake-killed"), signal.SIGKILL)   # an OOM kill, a kill -9
    thread.join(timeout=30)
    [record] = result
    assert record.status == "failed" and record.exit_code == -9
    assert "killed (signal 9, SIGKILL)" in record.last_error
    assert "Error" not in record.last_error, "a line of the log's settings dump is not the cause"


def _dead_archive(settings):
    """The same settings with the archive on a port where nothing answers (Elasticsearch down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return settings.replace(es_url=f"http://127.0.0.1:{port}", es_max_retries=0, es_request_timeout=2.0)


def _runs_with_id(es, settings, run_id: str) -> int:
    es.indices.refresh(index=settings.runs_index)
    return es.count(index=settings.runs_index, query={"term": {"run_id": run_id}})["count"]


def _dealwatch_status(settings) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dealwatch", "status"], env=supervisor.settings_environment(settings),
                          capture_output=True, text=True, timeout=120)


def test_a_run_that_ends_while_the_archive_is_down_is_kept_and_recorded_once_by_status(es, job_settings,
                                                                                      fake_crawl):
    record = supervisor.supervise_crawl(_source("fake-down"), _dead_archive(job_settings),
                                        crawl_command=fake_crawl("ok"))
    assert record.status == "ok"
    [kept] = pending_runs.pending(job_settings)
    assert json.loads(kept.read_text())["run_id"] == record.run_id
    assert runs.last_runs(es, job_settings, source="fake-down") == []

    first = _dealwatch_status(job_settings)               # the archive is back: status replays the spool
    assert first.returncode == 0, first.stderr
    assert pending_runs.pending(job_settings) == []
    [stored] = runs.last_runs(es, job_settings, source="fake-down")
    assert (stored.run_id, stored.status, stored.pages_fetched) == (record.run_id, "ok", 6)
    assert any(line.startswith("fake-down") and " ok " in line for line in first.stdout.splitlines()), first.stdout

    assert _dealwatch_status(job_settings).returncode == 0
    assert _runs_with_id(es, job_settings, record.run_id) == 1, "a replayed run is recorded once"


def test_kept_runs_are_recorded_by_the_next_run_and_by_the_scheduler_start(es, job_settings, fake_crawl, tmp_path):
    down = _dead_archive(job_settings)
    missed = [supervisor.supervise_crawl(_source(f"fake-missed-{i}"), down, crawl_command=fake_crawl("ok"))
              for i in (1, 2)]
    assert len(pending_runs.pending(job_settings)) == 2

    # the next run of any source, with the archive back, records what was kept, then itself
    pending_runs.pending(job_settings)[1].rename(tmp_path / "held-back.json")     # one for the scheduler
    nxt = supervisor.supervise_crawl(_source("fake-next"), job_settings, crawl_command=fake_crawl("ok"))
    assert [r.run_id for r in runs.last_runs(es, job_settings, source="fake-next")] == [nxt.run_id]
    assert _runs_with_id(es, job_settings, missed[0].run_id) == 1
    assert pending_runs.pending(job_settings) == []

    (tmp_path / "held-back.json").rename(pending_runs.spool_dir(job_settings) / "held-back.json")
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - name: idle\n    homepage: http://127.0.0.9:9/\n    enabled: false\n")
    daemon = scheduler.start(job_settings, sources)
    try:
        assert _runs_with_id(es, job_settings, missed[1].run_id) == 1
        assert pending_runs.pending(job_settings) == []
    finally:
        scheduler.stop(daemon)


SUPERVISOR = textwrap.dedent('''
    import sys
    from types import SimpleNamespace
    from crawler.supervisor import supervise_crawl
    from dealwatch.settings import get_settings
    supervise_crawl(SimpleNamespace(name=sys.argv[1], time_limit=float(sys.argv[3])), get_settings(),
                    trigger="schedule", crawl_command=[sys.executable, sys.argv[2]])
''')


def _supervisor_to_kill(job_settings, fake_crawl, tmp_path, name: str, steps: int, mode: str = "ok",
                        limit: float = 120) -> subprocess.Popen:
    """A supervisor in its own process (a daemon, as far as the crawl can tell), over a fake crawl of ``steps``."""
    fake = fake_crawl(mode)
    os.environ["FAKE_STEPS"] = str(steps)
    try:
        script = tmp_path / "supervisor.py"
        script.write_text(SUPERVISOR)
        return subprocess.Popen([sys.executable, str(script), name, fake[1], str(limit)],
                                env=supervisor.settings_environment(job_settings))
    finally:
        del os.environ["FAKE_STEPS"]


def test_a_crawl_outlives_its_killed_supervisor_holding_the_lock_and_is_adopted_and_recorded(
        es, job_settings, fake_crawl, tmp_path):
    daemon = _supervisor_to_kill(job_settings, fake_crawl, tmp_path, "fake-orphan", steps=30)   # about 6 s
    crawl_pid = _running_crawl_pid(job_settings, "fake-orphan")
    daemon.kill()                                          # the daemon dies by SIGKILL mid-crawl
    daemon.wait()
    assert pid_alive(crawl_pid), "the crawl runs on"

    # while it runs, nobody starts a second crawl of the source
    again = supervisor.supervise_crawl(_source("fake-orphan"), job_settings, crawl_command=fake_crawl("ok"))
    assert again.status == "skipped"

    # a restarted daemon finds the orphan, watches it to its end and records it
    [orphan] = supervisor.find_orphans(job_settings)
    assert (orphan.source, orphan.crawl_pid, orphan.trigger) == ("fake-orphan", crawl_pid, "schedule")
    record = supervisor.supervise_orphan(orphan, job_settings)
    _wait_for(lambda: not pid_alive(crawl_pid), "the orphan's lock is free but it still runs", timeout=5)
    assert (record.status, record.pages_fetched, record.trigger) == ("ok", 30, "schedule")
    [stored] = runs.last_runs(es, job_settings, source="fake-orphan")
    assert stored.run_id == orphan.run_id and stored.status == "ok"
    lock = SourceLock(job_settings, "fake-orphan")
    assert lock.acquire() and lock.holder() is None, "the lock is free and names no run"
    lock.release()
    assert supervisor.find_orphans(job_settings) == []


def test_a_run_whose_supervisor_died_is_recorded_by_the_next_supervisor_of_the_source(
        es, job_settings, fake_crawl, tmp_path):
    daemon = _supervisor_to_kill(job_settings, fake_crawl, tmp_path, "fake-left", steps=10)
    crawl_pid = _running_crawl_pid(job_settings, "fake-left")
    left_run = SourceLock(job_settings, "fake-left").holder().run_id
    daemon.kill()
    daemon.wait()
    _wait_for(lambda: not pid_alive(crawl_pid), "the crawl did not end", timeout=60)

    nxt = supervisor.supervise_crawl(_source("fake-left"), job_settings, crawl_command=fake_crawl("ok"))
    assert nxt.status == "ok"
    by_id = {r.run_id: r for r in runs.last_runs(es, job_settings, source="fake-left")}
    assert set(by_id) == {left_run, nxt.run_id}
    assert by_id[left_run].status == "ok" and by_id[left_run].pages_fetched == 10


def test_an_adopted_crawl_is_held_to_its_time_limit(job_settings, fake_crawl, tmp_path):
    daemon = _supervisor_to_kill(job_settings, fake_crawl, tmp_path, "fake-orphan-hang", steps=0, mode="hang",
                                 limit=2.0)
    crawl_pid = _running_crawl_pid(job_settings, "fake-orphan-hang")
    daemon.kill()
    daemon.wait()
    [orphan] = supervisor.find_orphans(job_settings)
    t0 = time.monotonic()
    record = supervisor.supervise_orphan(orphan, job_settings, record=False)
    assert record.status == "timed_out" and record.finish_reason == "shutdown"   # SIGTERM, and it stopped
    assert time.monotonic() - t0 < 2.0 + 2 * job_settings.crawl_stop_grace + 5
    _wait_for(lambda: not pid_alive(crawl_pid), "the timed-out orphan still runs", timeout=5)
