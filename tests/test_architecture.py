"""The layer rule of docs/architecture.md holds: checked on every test run, not remembered."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ES_IMPORT = re.compile(r"^\s*(from|import) (elasticsearch|elastic_transport)\b", re.M)


def test_the_import_contracts_of_pyproject_are_kept():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint, "import-linter is not installed (pip install -e '.[test]')"
    proc = subprocess.run([lint, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_only_the_indexer_and_the_benchmarks_import_elasticsearch():
    offenders = []
    for package in ("crawler", "search_ui", "dealwatch", "demo_sites", "indexer/enrich"):
        for path in (REPO / package).rglob("*.py"):
            if ES_IMPORT.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_nothing_in_the_indexer_reads_crawl_configuration():
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "indexer").rglob("*.py")
                 if re.search(r"^\s*(from|import) (crawler|search_ui)\b", p.read_text(encoding="utf-8"), re.M)]
    assert offenders == []


def test_production_code_reads_no_demo_setting():
    """The demo knows its own paths (demo_sites, dealwatch.demo); the crawler, the archive and the
    UI work with the files and settings they are given, demo or not."""
    offenders = [f"{p.relative_to(REPO)}: {m.group(0)}" for package in ("crawler", "indexer", "search_ui")
                 for p in (REPO / package).rglob("*.py")
                 for m in re.finditer(r"\bsettings\.demo_\w+|\bdemo_(?:sources_file|port)\b", p.read_text(encoding="utf-8"))]
    assert offenders == []
