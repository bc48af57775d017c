"""The run history (`crawl-runs` index): strict mapping, recording runs, last runs, per-source summaries."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from elasticsearch import BadRequestError

from indexer import run_history as runs
from indexer.run_history import RunRecord


@pytest.fixture()
def runs_index(es, settings):
    es.options(ignore_status=404).indices.delete(index=settings.runs_index)
    runs.ensure_runs_index(es, settings)
    yield settings
    es.options(ignore_status=404).indices.delete(index=settings.runs_index)


def _run(source: str, minutes_ago: int, status: str = "ok", **kw) -> RunRecord:
    start = datetime(2026, 1, 10, 12, 0, tzinfo=timezone.utc) - timedelta(minutes=minutes_ago)
    return RunRecord(run_id=f"r{minutes_ago}", source=source, started_at=start,
                     ended_at=start + timedelta(seconds=42), status=status, **kw)


def test_the_runs_index_has_a_strict_explicit_mapping(es, runs_index):
    mapping = es.indices.get_mapping(index=runs_index.runs_index)[runs_index.runs_index]["mappings"]
    assert mapping["dynamic"] == "strict"
    for name in ("run_id", "source", "started_at", "ended_at", "status", "pages_fetched", "articles",
                 "dropped_reasons", "errors", "error_samples", "last_error", "next_run_at", "duration_s"):
        assert name in mapping["properties"], name
    with pytest.raises(BadRequestError):
        es.index(index=runs_index.runs_index, document={"source": "x", "surprise": 1})


def test_a_recorded_run_reads_back_with_every_counter(es, runs_index):
    record = _run("bankier", 0, status="partial", pages_fetched=31, requests=35,
                  articles={"new": 12, "updated": 1, "unchanged": 3, "dropped": 2},
                  dropped_reasons={"no_text": 1, "too_large": 1}, errors={"http_404": 2, "dns": 1},
                  error_samples=[{"url": "http://x/a", "kind": "http_404", "message": "Not Found"}],
                  last_error="http_404: http://x/a: Not Found",
                  next_run_at=datetime(2026, 1, 10, 13, 0, tzinfo=timezone.utc))
    runs.record_run(es, runs_index, record)
    [back] = runs.last_runs(es, runs_index, source="bankier")
    assert back.articles == record.articles
    assert back.dropped_reasons == {"no_text": 1, "too_large": 1}
    assert back.errors == {"http_404": 2, "dns": 1} and back.errors_total == 3
    assert back.error_samples[0]["kind"] == "http_404"
    assert back.duration_s == 42.0
    assert back.next_run_at == record.next_run_at
    assert back.status == "partial" and back.last_error.startswith("http_404")


def test_last_runs_are_newest_first_and_filtered_by_source(es, runs_index):
    for minutes, source in ((30, "a"), (20, "b"), (10, "a")):
        runs.record_run(es, runs_index, _run(source, minutes, pages_fetched=1))
    assert [r.run_id for r in runs.last_runs(es, runs_index)] == ["r10", "r20", "r30"]
    assert [r.run_id for r in runs.last_runs(es, runs_index, source="a")] == ["r10", "r30"]
    assert len(runs.last_runs(es, runs_index, n=1)) == 1


def test_source_summaries_give_last_run_totals_and_last_error(es, runs_index):
    runs.record_run(es, runs_index, _run("a", 30, status="failed", last_error="dns: cannot resolve a.example",
                                         errors={"dns": 1}))
    runs.record_run(es, runs_index, _run("a", 20, pages_fetched=10, articles={"new": 5, "updated": 0,
                                                                             "unchanged": 0, "dropped": 1}))
    runs.record_run(es, runs_index, _run("a", 10, pages_fetched=4, articles={"new": 2, "updated": 1,
                                                                            "unchanged": 3, "dropped": 0}))
    runs.record_run(es, runs_index, _run("b", 5, pages_fetched=1))
    summaries = runs.source_summaries(es, runs_index)
    assert set(summaries) == {"a", "b"}
    a = summaries["a"]
    assert a.runs == 3 and a.last_run.run_id == "r10"
    assert a.totals["pages_fetched"] == 14 and a.totals["new"] == 7 and a.totals["updated"] == 1
    assert a.totals["errors"] == 1
    assert a.runs_by_status == {"ok": 2, "failed": 1}
    assert a.last_error == "dns: cannot resolve a.example"
    assert summaries["b"].last_error == ""


def test_no_history_yet_means_empty_answers(es, settings):
    empty = settings.replace(index_prefix=settings.index_prefix + "none-")
    assert runs.last_runs(es, empty) == []
    assert runs.source_summaries(es, empty) == {}
