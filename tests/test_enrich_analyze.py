"""`dealwatch analyze`: JSON lines in, one JSON line per record out - the contract quality is checked by."""

import json

from click.testing import CliRunner

from dealwatch.cli import main

RECORDS = [
    {"id": "r1", "title": "Facebook wants bank data", "lang": "en", "url": "http://x.example/1",
     "text": "Facebook asked JPMorgan Chase and Wells Fargo to share card transactions and account balances of "
             "their customers."},
    {"text": "Kraków zaprasza na jarmark świąteczny. Stoiska z pierogami stanęły na Rynku Głównym."},
]


def run(args, stdin=None):
    result = CliRunner().invoke(main, args, input=stdin)
    return result


def test_analyze_writes_the_contract_fields(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in RECORDS) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = run(["analyze", str(src), "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert set(first) == {"id", "lang", "relevance", "entities", "other_names"}
    assert first["id"] == "r1" and first["lang"] == "en"
    assert set(first["relevance"]) == {"score", "relevant", "evidence"}
    assert first["relevance"]["relevant"] is True and first["relevance"]["evidence"]
    assert {e["name"] for e in first["entities"]} == {"Meta Platforms", "JPMorgan Chase", "Wells Fargo"}
    assert all(set(e) == {"id", "name", "type", "count"} for e in first["entities"])
    assert second["id"] == "line-2" and second["lang"] == "pl"          # detected
    assert second["relevance"]["relevant"] is False and second["entities"] == []


def test_analyze_reads_stdin_and_skips_bad_lines_with_a_message():
    stdin = json.dumps(RECORDS[0]) + "\nnot json\n" + json.dumps({"title": "no text"}) + "\n"
    result = run(["analyze", "-"], stdin=stdin)
    assert result.exit_code == 0
    out = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [o["id"] for o in out] == ["r1"]
    assert "2 skipped" in result.stderr and "line 2: not JSON" in result.stderr


def test_a_headline_repeated_as_the_first_line_counts_once():
    record = {"id": "h", "lang": "en", "title": "Facebook asks banks for data",
              "text": "Facebook asks banks for data\nThe social network approached Citigroup about card transactions."}
    result = run(["analyze", "-"], stdin=json.dumps(record) + "\n")
    out = json.loads(result.stdout.splitlines()[0])
    counts = {e["name"]: e["count"] for e in out["entities"]}
    assert counts == {"Meta Platforms": 1, "Citigroup": 1}
