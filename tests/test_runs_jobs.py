"""The crawl supervisor's process handling: time limit, status classification, lock, recording.

These tests replace ``python -m crawler.crawl_process`` by a tiny stand-in script that follows the crawl
process's contract (stats JSON written atomically, exit code), because they are about the
runner, not the crawler: a crawl that hangs, ignores SIGTERM or crashes must be handled the
same whatever the crawler does. The real crawler is exercised by test_schedule*, test_incremental*
and test_resume*.
"""

from __future__ import annotations

import sys
import textwrap
import threading
import time
from types import SimpleNamespace

import pytest

from crawler import supervisor
from indexer import run_history as runs

FAKE_CRAWL = textwrap.dedent('''
    import argparse, json, os, signal, sys, time
    p = argparse.ArgumentParser()
    p.add_argument("--sources"); p.add_argument("--stats-file"); p.add_argument("--run-id")
    p.add_argument("--sources-file")
    a = p.parse_args()
    mode = os.environ["FAKE_MODE"]
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
    steps = 6 if mode in ("ok", "partial", "nothing") else 10_000
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
