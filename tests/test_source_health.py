"""Source health from the run history: the judgement (a pure function, as tables of runs), its alert to the
admin address through a real SMTP server (each onset once), and /sources showing the same state.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from alerts.health import run_health
from alerts_helpers import Mailroom, smtp_settings
from indexer import store
from indexer.archive import Archive
from indexer.run_history import RunRecord
from indexer.source_health import assess

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def run(i: int, status: str = "ok", new: int = 0, errors: dict | None = None, dropped: dict | None = None,
        hours_ago: float | None = None, last_error: str = "") -> RunRecord:
    """Run number ``i`` (0 = the newest), one every 6 hours unless ``hours_ago`` says otherwise."""
    started = NOW - timedelta(hours=6 * i if hours_ago is None else hours_ago)
    return RunRecord(run_id=f"r{i}", source="src", started_at=started, ended_at=started + timedelta(minutes=2),
                     status=status, articles={"new": new, "updated": 0, "unchanged": 0, "dropped": 0},
                     errors=errors or {}, dropped_reasons=dropped or {}, last_error=last_error)


@pytest.mark.parametrize("runs, kinds, event", [
    ([run(0)], [], None),
    ([run(0, "failed"), run(1, "failed"), run(2, "ok", new=3)], [], None),                      # 2 < 3
    ([run(0, "failed", last_error="nothing fetched: dns"), run(1, "timed_out"), run(2, "failed"), run(3, "failed"),
      run(4, new=2)], ["failing"], "src:failing:r3"),                                             # the streak's start
    ([run(i, new=0) for i in range(13)] + [run(13, new=5)], ["quiet"], "src:quiet:r13"),         # 78 h quiet
    ([run(i, new=0) for i in range(8)] + [run(8, new=5)], [], None),                             # 48 h only
    ([run(i, new=0) for i in range(20)], [], None),                                              # it never yielded
    ([run(0, "partial", new=1, errors={"http_500": 9}, dropped={"consent_wall": 3})]
     + [run(i, new=1, errors={"http_404": 1}) for i in range(1, 8)], ["trouble"], "src:trouble:r0"),
    ([run(0, "partial", new=1, errors={"http_500": 4})]
     + [run(i, new=1) for i in range(1, 8)], [], None),                                          # below the minimum 5
    ([run(0, "partial", new=1, errors={"http_500": 9})]
     + [run(i, new=1, errors={"timeout": 4}) for i in range(1, 8)], [], None),                   # < 3 x the median
])
def test_health_is_judged_from_the_runs(settings, runs, kinds, event):
    health = assess("src", runs, NOW, settings)
    assert [p.kind for p in health.problems] == kinds
    if event:
        assert health.problems[0].event_id == event
        assert health.state == kinds[0]
    else:
        assert health.state == "ok"


def test_failing_names_the_last_error_and_what_to_check(settings):
    runs = [run(0, "failed", last_error="nothing fetched: connection refused"), run(1, "failed"), run(2, "failed")]
    [problem] = assess("src", runs, NOW, settings).problems
    assert "the last 3 runs failed" in problem.message and "connection refused" in problem.message


@pytest.fixture()
def room():
    r = Mailroom().start()
    yield r
    r.stop()


def test_a_failing_source_alerts_the_admin_once_and_sources_shows_it(settings, room, tmp_path):
    from fastapi.testclient import TestClient

    from search_ui.app import create_app

    s = smtp_settings(settings, room, index_prefix=f"{settings.index_prefix}health-", data_dir=tmp_path / "d",
                      alerts_admin_email="Admin Łódź <admin@example.org>")
    archive = Archive(s)
    store.drop_all(archive._es, s)
    archive.ensure()
    now = datetime.now(timezone.utc)
    try:
        for i in range(3):
            started = now - timedelta(hours=i)
            archive.record_run(RunRecord(run_id=f"f{i}", source="dead-end", started_at=started, ended_at=started,
                                         status="failed", last_error="nothing fetched: dns: no such host"))
            archive.record_run(RunRecord(run_id=f"f{i}", source="fine", started_at=started, ended_at=started,
                                         articles={"new": 2, "updated": 0, "unchanged": 0, "dropped": 0}))
        first = run_health(archive, s)
        assert first.status == "sent" and first.delivered == 1
        [msg] = room.wait_for(1)
        assert msg["Subject"] == "[DealWatch] source health: 1 problem"
        assert msg["To"].addresses[0].display_name == "Admin Łódź"
        body = msg.get_body(("plain",)).get_content()
        assert "dead-end: the last 3 runs failed" in body and "no such host" in body and "fine" not in body
        assert "List-Unsubscribe" not in msg                      # the admin address is a setting
        # the same streak goes on: nothing new to tell
        archive.record_run(RunRecord(run_id="f9", source="dead-end", started_at=now + timedelta(minutes=5),
                                     status="failed"))
        assert run_health(archive, s).status == "nothing-new"
        assert len(room.raw) == 1
        with TestClient(create_app(s)) as client:
            page = client.get("/sources")
            assert page.status_code == 200
            assert 'class="health health-failing"' in page.text and "the last 4 runs failed" in page.text
            assert 'class="health health-ok"' in page.text
            api = {x["source"]: x["health"] for x in client.get("/api/sources").json()["sources"]}
            assert api["dead-end"]["state"] == "failing" and api["fine"]["state"] == "ok"
        assert run_health(archive, s.replace(alerts_admin_email="")).status == "no-channel"
    finally:
        store.drop_all(archive._es, s)
