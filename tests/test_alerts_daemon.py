"""Alerts in the scheduler daemon, as real processes: ``dealwatch schedule`` killed with SIGKILL between an
acknowledged send and its marking, and an after-crawl alert following a real crawl of a demo site.

Specification:
* a daemon killed after the SMTP server acknowledged a digest but before it was marked: the next
  daemon sends that digest once more — the same articles, the same Message-ID, so the receiver can
  drop the copy — then marks it; nothing is lost and nothing is sent a third time;
* an alert "after each crawl of its sources" is delivered by the daemon when the crawl job of its
  source has finished (APScheduler's job-executed event), with every article the crawl archived.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alerts_helpers import Hook, Mailroom, parts, smtp_settings, write_articles
from crawler.supervisor import settings_environment
from indexer import store
from indexer.archive import Archive
from indexer.saved_searches import build
from jobs_helpers import isolated_settings, serve_demo, write_sources

pytestmark = pytest.mark.slow


def _dealwatch() -> list[str]:
    exe = shutil.which("dealwatch", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "dealwatch"]


def _dead_sources(path: Path) -> Path:
    path.write_text("sources:\n  - name: dead-end\n    homepage: http://127.0.0.9:9/\n"
                    "    schedule: {interval: 1h}\n", encoding="utf-8")
    return path


def _wait(predicate, timeout: float, what: str, daemon=None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while not predicate():
        if daemon is not None:
            assert daemon.poll() is None, f"the daemon died:\n{log.read_text() if log else ''}"
        assert time.monotonic() < deadline, f"{what} within {timeout}s\n{log.read_text() if log else ''}"
        time.sleep(0.2)


@pytest.fixture()
def room():
    r = Mailroom().start()
    yield r
    r.stop()


def test_a_daemon_killed_between_send_and_mark_sends_that_digest_once_more_then_never(settings, room, tmp_path):
    s = smtp_settings(isolated_settings(settings, tmp_path, "alkill", scheduler_jitter=0.0, extract_workers=1),
                      room, alerts_lease=15.0, alerts_secret="kill-secret")   # the restarted daemon meets it held
    archive = Archive(s)
    archive.ensure()
    es = archive._es
    sources = _dead_sources(tmp_path / "sources.yaml")
    alert = archive.save_search(build(name="Citigroup — przegląd", query="q=citigroup", schedule="hourly",
                                      emails=["Zofia Wójcik <zofia@example.org>"]))
    ids = write_articles(es, s, ["fb-banks", "formula", "google-office"])
    procs = []
    try:
        log1 = tmp_path / "daemon1.log"
        with open(log1, "w") as out:
            first = subprocess.Popen([*_dealwatch(), "schedule", "--sources-file", str(sources)],
                                     env=settings_environment(s.replace(alerts_hold_after_send=120.0)),
                                     stdout=out, stderr=subprocess.STDOUT)
            procs.append(first)
            # a new alert runs at once; the server acknowledges; the runner holds before marking
            _wait(lambda: len(room.raw) == 1 and "holding" in log1.read_text(), 120,
                  "the first digest did not arrive", first, log1)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        pending = archive.pending_digest(alert.id)
        assert pending is not None and pending.acknowledged == [] and archive.ledger_size(alert.id) == 0

        log2 = tmp_path / "daemon2.log"
        with open(log2, "w") as out:
            second = subprocess.Popen([*_dealwatch(), "schedule", "--sources-file", str(sources)],
                                      env=settings_environment(s), stdout=out, stderr=subprocess.STDOUT)
            procs.append(second)
            _wait(lambda: archive.ledger_size(alert.id) == 2, 120, "the digest was not marked", second, log2)
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0, log2.read_text()

        one, two = room.messages
        assert one["Message-ID"] == two["Message-ID"] and one["Subject"] == two["Subject"] == \
            "[DealWatch] Citigroup — przegląd: 2 new articles"
        assert parts(one) == parts(two)
        assert f"/articles/{ids['fb-banks']}" in parts(two)[0] and f"/articles/{ids['formula']}" in parts(two)[0]
        assert archive.pending_digest(alert.id) is None
        assert archive.delivered(alert.id, list(ids.values())) == {ids["fb-banks"]: pending.digest_id,
                                                                   ids["formula"]: pending.digest_id}

        again = subprocess.run([*_dealwatch(), "alerts", "run", alert.id], env=settings_environment(s),
                               capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert "nothing new" in again.stdout
        assert len(room.raw) == 2
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        store.drop_all(es, s)


def test_an_after_crawl_alert_follows_the_crawl_of_its_source(settings, tmp_path):
    demo = serve_demo()
    hook = Hook().start()
    s = isolated_settings(settings, tmp_path, "alcrawl", scheduler_jitter=0.0, extract_workers=1,
                          crawl_time_limit=120.0).replace(public_url="http://ui.test:8000")
    archive = Archive(s)
    archive.ensure()
    es = archive._es
    sources = write_sources(demo, tmp_path / "sources.yaml", ["baltic-ledger"], schedule={"interval": "1h"},
                            time_limit="120s")
    alert = archive.save_search(build(name="Baltic Ledger, everything", query="source=baltic-ledger&relevance=all",
                                      schedule="after-crawl", webhook_url=hook.url, webhook_format="json"))
    other = archive.save_search(build(name="Another source", query="source=night-wire&relevance=all",
                                      schedule="after-crawl", webhook_url=hook.url))
    log = tmp_path / "daemon.log"
    daemon = None
    try:
        with open(log, "w") as out:
            daemon = subprocess.Popen([*_dealwatch(), "schedule", "--sources-file", str(sources)],
                                      env=settings_environment(s), stdout=out, stderr=subprocess.STDOUT)
            _wait(lambda: hook.requests, 240, "no digest after the crawl", daemon, log)
            _wait(lambda: archive.pending_digest(alert.id) is None and archive.ledger_size(alert.id) > 0, 60,
                  "the digest was not marked", daemon, log)
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=60) == 0, log.read_text()
        [digest] = [r.json for r in hook.requests]
        crawled = archive.count("baltic-ledger")
        assert crawled > 10
        assert digest["alert"]["name"] == "Baltic Ledger, everything"
        assert digest["count"] == crawled == archive.ledger_size(alert.id)
        assert {e["source"] for e in digest["entries"]} == {"baltic-ledger"}
        assert archive.ledger_size(other.id) == 0          # its source was not crawled
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        hook.stop()
        demo.stop()
        store.drop_all(es, s)
