"""The benchmark harness at smoke size: it runs every section and writes their tables.

These tests check that ``python -m bench all --smoke`` measures and reports; they never
assert a time or a rate (speed belongs to BENCHMARKS.md, not to the test suite).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report
from bench.extraction import score, tp_fp_fn
from conftest import shared_data

REPO = Path(__file__).resolve().parents[1]
ENRICHMENT_BODY = "Written by the enrichment benchmark; must survive a harness run."


def test_report_rewrites_its_sections_and_keeps_the_others(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    out.write_text(f"# old\n\n{report.SEARCH}\n\nold search figures\n\n{report.ENRICHMENT}\n\n{ENRICHMENT_BODY}\n",
                   encoding="utf-8")
    text = report.write(out, {report.EXPORT: "**Headline:** 5 rows.\n\nexport table"})
    sections = report.parse(text)
    assert sections[report.ENRICHMENT] == ENRICHMENT_BODY
    assert sections[report.SEARCH] == "old search figures"
    assert sections[report.EXPORT].startswith("**Headline:** 5 rows.")
    assert "4. CSV export**: 5 rows." in sections[report.SUMMARY]
    assert text.startswith(report.TITLE)


def test_extraction_metric_follows_the_benchmarks_evaluate():
    text = "Facebook asked banks for card transactions and checking account balances of customers"
    assert tp_fp_fn(text, text) == (1.0, 0.0, 0.0)
    tp, fp, fn = tp_fp_fn(text, "completely different words that share nothing at all")
    assert tp == 0 and fp > 0 and fn > 0 and abs(fp + fn - 1) < 1e-9   # normalised per page
    s = score("x", [(text, text), (text, "")])
    assert s.precision == 1.0          # the empty prediction has no precision to average
    assert s.recall == 0.5
    assert abs(s.f1 - 2 / 3) < 1e-9


@pytest.mark.slow
def test_smoke_run_writes_every_section_with_its_table(settings, tmp_path):
    shared_data("news-pages", "manifest.jsonl")
    shared_data("extraction-benchmark", "ground-truth.json")
    out = tmp_path / "BENCHMARKS.md"
    out.write_text(f"# x\n\n{report.ENRICHMENT}\n\n{ENRICHMENT_BODY}\n", encoding="utf-8")
    env = {**os.environ, "DEALWATCH_INDEX_PREFIX": settings.index_prefix, "DEALWATCH_DATA_DIR": str(settings.data_dir)}
    proc = subprocess.run([sys.executable, "-m", "bench", "all", "--smoke", "--no-newsplease", "--output", str(out),
                           "--workdir", str(tmp_path / "work")], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sections = report.parse(out.read_text(encoding="utf-8"))
    assert sections[report.ENRICHMENT] == ENRICHMENT_BODY
    expected_columns = {
        report.THROUGHPUT: "| run | pages | articles out | wall s | pages/s |",
        report.INDEXING: "| write path | chunk size | refresh_interval |",
        report.SEARCH: "| archive | query | requests | total hits | raw ES p50 |",
        report.EXPORT: "| rows asked | parameters | rows |",
        report.EXTRACTION: "| extractor | pages | precision | recall | F1 |",
        report.MACHINE: "| fact | value |",
    }
    for heading, columns in expected_columns.items():
        assert columns in sections[heading], f"{heading} has no table"
    assert "**Headline:**" in sections[report.THROUGHPUT]
    assert "DealWatch crawl" in sections[report.THROUGHPUT]
    assert "ceiling: extract_article" in sections[report.THROUGHPUT]
    # the smoke run removes the indices it created
    from indexer.client import make_client
    es = make_client(settings)
    assert not list(es.indices.get(index=f"{settings.index_prefix}smoke-bench-*", allow_no_indices=True))


def test_extraction_with_fundus_is_fundus_where_its_text_is_kept_else_the_pipeline():
    from bench.extraction import FundusRun, VariantRun, combine
    long_body = "Fundus body. " * 40                       # over FUNDUS_MIN_TEXT_CHARS
    pipeline = VariantRun([{"text": f"pipeline {i}", "title": f"T{i}", "authors": ["A"], "date": "2024-01-0" + str(i + 1)}
                           for i in range(3)], [0.030, 0.040, 0.050], 1.0)
    fundus = FundusRun(supported=[True, True, False],
                       results=[{"publisher": "P", "text": long_body, "title": "", "authors": ["F"],
                                 "published_at": None},
                                {"publisher": "P", "text": "teaser", "title": "X", "authors": [], "published_at": None},
                                None],
                       cpu=[0.010, 0.012, 0.0], seconds=1.0)
    out, used = combine(pipeline, fundus, {0: 0.020, 1: 0.020})
    assert used == [True, False, False]
    assert out.outputs[0] == {"text": long_body, "title": "T0", "authors": ["F"], "date": "2024-01-01"}
    assert out.outputs[1]["text"] == "pipeline 1" and out.outputs[2]["text"] == "pipeline 2"
    # kept: Fundus + trafilatura's metadata; fallen back: Fundus tried, then the pipeline; unsupported: the pipeline
    assert [round(c, 3) for c in out.cpu] == [0.030, 0.052, 0.050]
