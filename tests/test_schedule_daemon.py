"""`dealwatch schedule` as a daemon process, and `dealwatch status`: a real command line, a real
crawl of a (slowed) demo site, SIGTERM in the middle of the crawl.

Specification:
* SIGTERM stops the daemon cleanly (exit code 0) within the crawl stop grace: the running
  crawl is stopped, recorded as `partial` ("stopped on shutdown"), and its lock released;
* `dealwatch status` shows the source's last run and its next run from the job store;
  before anything ran it says so;
* a daemon killed with SIGKILL mid-crawl leaves the crawl running with the source's lock: the
  restarted daemon starts no second crawl of the source while it runs (no article page is
  fetched twice), adopts it and records it once; runs of the source never overlap.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from crawler.supervisor import SourceLock, settings_environment
from indexer import run_history as runs, store
from indexer.client import make_client
from jobs_helpers import article_paths, isolated_settings, slow_demo_sites, write_sources

SITE = "baltic-ledger"


def _dealwatch() -> list[str]:
    exe = shutil.which("dealwatch", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "dealwatch"]


@pytest.fixture()
def slow_demo():
    with slow_demo_sites(0.5) as demo:
        yield demo


def test_sigterm_stops_the_daemon_and_its_running_crawl_cleanly(settings, slow_demo, tmp_path):
    s = isolated_settings(settings, tmp_path, "daemon", scheduler_jitter=0.0, extract_workers=1,
                          concurrent_requests_per_domain=1, crawl_stop_grace=15.0)
    es = make_client(s)
    sources = write_sources(slow_demo, tmp_path / "sources.yaml", [SITE], schedule={"interval": "1h"},
                            time_limit="5m")
    env = settings_environment(s)
    try:
        before = subprocess.run([*_dealwatch(), "status", "--sources-file", str(sources)], env=env,
                                capture_output=True, text=True, timeout=60)
        assert before.returncode == 0, before.stderr
        assert SITE in before.stdout and "never" in before.stdout and "not scheduled" in before.stdout

        log = open(tmp_path / "daemon.log", "w")
        daemon = subprocess.Popen([*_dealwatch(), "schedule", "--sources-file", str(sources)], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        host = slow_demo.site(SITE).host
        deadline = time.monotonic() + 120
        while len(article_paths(slow_demo.requests, host)) < 3:     # the first run is under way
            assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()
            assert time.monotonic() < deadline, "the scheduled crawl did not start"
            time.sleep(0.1)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0, (tmp_path / "daemon.log").read_text()
        log.close()

        [run] = runs.last_runs(es, s, source=SITE)
        assert run.trigger == "schedule"
        assert run.status == "partial" and "stopped on shutdown" in run.last_error
        assert run.next_run_at is not None
        lock = SourceLock(s, SITE)
        assert lock.acquire(), "the crawl's lock is still held after the daemon stopped"
        lock.release()

        after = subprocess.run([*_dealwatch(), "status", "--sources-file", str(sources)], env=env,
                               capture_output=True, text=True, timeout=60)
        assert after.returncode == 0, after.stderr
        line = next(x for x in after.stdout.splitlines() if x.startswith(SITE))
        assert "partial" in line and "not scheduled" not in line
        assert "stopped on shutdown" in after.stdout
    finally:
        if "daemon" in locals() and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        store.drop_all(es, s)


def test_a_sources_file_broken_before_sighup_is_reported_and_the_daemon_keeps_its_jobs(settings, tmp_path):
    s = isolated_settings(settings, tmp_path, "reload", scheduler_jitter=0.0, extract_workers=1)
    es = make_client(s)
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - name: dead-end\n    homepage: http://127.0.0.9:9/\n"
                       "    schedule: {interval: 1h}\n", encoding="utf-8")
    log_path = tmp_path / "daemon.log"
    try:
        with open(log_path, "w") as log:
            daemon = subprocess.Popen([*_dealwatch(), "schedule", "--sources-file", str(sources)],
                                      env=settings_environment(s), stdout=log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 120
            while not runs.last_runs(es, s, source="dead-end"):      # its first run has been recorded
                assert daemon.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the first scheduled run was not recorded"
                time.sleep(0.5)
            sources.write_text("sources: [\n", encoding="utf-8")    # broken YAML
            daemon.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 30
            while "sources not reloaded" not in log_path.read_text():
                assert daemon.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the failed reload was not reported"
                time.sleep(0.2)
            assert daemon.poll() is None, "the daemon died on a broken sources file"
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=60) == 0, log_path.read_text()
        assert "not valid YAML" in log_path.read_text()
    finally:
        if "daemon" in locals() and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        store.drop_all(es, s)


def test_a_daemon_killed_mid_crawl_leaves_the_crawl_to_the_restarted_daemon_which_adopts_it(settings, tmp_path):
    s = isolated_settings(settings, tmp_path, "orphan", scheduler_jitter=0.0, extract_workers=1,
                          concurrent_requests_per_domain=1, crawl_stop_grace=15.0)
    es = make_client(s)
    env = settings_environment(s)
    daemons: list[subprocess.Popen] = []

    def start_daemon(name: str) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "w")
        daemon = subprocess.Popen([*_dealwatch(), "schedule", "--sources-file", str(sources)], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        daemons.append(daemon)
        return daemon

    # every 5 s, and the crawl lasts longer (0.5 s per article page, one at a time): the restarted
    # daemon's job is due as it starts, while the orphan still runs
    with slow_demo_sites(0.5) as demo:
        sources = write_sources(demo, tmp_path / "sources.yaml", [SITE], schedule={"interval": "5s"},
                                time_limit="5m")
        host = demo.site(SITE).host
        try:
            first = start_daemon("first")
            deadline = time.monotonic() + 120
            while len(article_paths(demo.requests, host)) < 2:
                assert first.poll() is None, (tmp_path / "first.log").read_text()
                assert time.monotonic() < deadline, "the scheduled crawl did not start"
                time.sleep(0.1)
            first.kill()                                   # SIGKILL: no shutdown, no recording
            first.wait()
            lock = SourceLock(s, SITE)
            assert not lock.acquire(), "the crawl holds its source's lock after its daemon died"
            orphan = lock.holder()

            second = start_daemon("second")
            deadline = time.monotonic() + 240
            while orphan.run_id not in {r.run_id for r in runs.last_runs(es, s, source=SITE, n=50)}:
                assert second.poll() is None, (tmp_path / "second.log").read_text()
                assert time.monotonic() < deadline, "the adopted crawl was not recorded"
                time.sleep(0.5)
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0, (tmp_path / "second.log").read_text()
        finally:
            for daemon in daemons:
                if daemon.poll() is None:
                    daemon.kill()
                    daemon.wait()
            requests = demo.requests
        try:
            second_log = (tmp_path / "second.log").read_text()
            assert f"adopting the crawl of {SITE}" in second_log
            assert f"skipped {SITE}: a crawl of this source is already running" in second_log, \
                "the restarted daemon's job came due while the orphan ran"
            fetched = Counter(article_paths(requests, host))
            assert [p for p, n in fetched.items() if n > 1] == [], "article pages fetched twice"
            assert len(fetched) == len(demo.site(SITE).visible_articles(1))

            history = sorted(runs.last_runs(es, s, source=SITE, n=50), key=lambda r: r.started_at)
            adopted = [r for r in history if r.run_id == orphan.run_id]
            assert len(adopted) == 1
            assert (adopted[0].status, adopted[0].trigger) == ("ok", "schedule"), adopted[0].last_error
            assert adopted[0].articles["new"] == len(fetched)
            for earlier, later in zip(history, history[1:]):
                assert later.started_at >= earlier.ended_at, f"runs {earlier.run_id} and {later.run_id} overlap"
        finally:
            store.drop_all(es, s)
