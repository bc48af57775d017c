"""A separate virtual environment for news-please, the peer crawler we compare against.

news-please pins old versions of libraries DealWatch also uses, so it never goes into the
project's venv: the harness creates ``/tmp/dealwatch-bench/np-venv`` with ``python -m venv``
and installs it there with pip, then drives it through :mod:`bench.newsplease_worker`.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

NEWSPLEASE_REQUIREMENT = "news-please>=1.6"
# news-please imports tinysegmenter for Japanese pages but does not declare it
EXTRA_REQUIREMENTS = ["tinysegmenter", "lxml_html_clean"]
DEFAULT_VENV = Path("/tmp/dealwatch-bench/np-venv")


def venv_python(venv_dir: Path) -> Path:
    return venv_dir / "bin" / "python"


def ensure_venv(venv_dir: Path = DEFAULT_VENV) -> Path:
    """Create the venv and install news-please when missing; returns its python."""
    python = venv_python(venv_dir)
    if python.exists() and _has_newsplease(python):
        return python
    if not python.exists():
        log.info("creating news-please venv in %s (one-off, takes a minute)", venv_dir)
        subprocess.run([sys.executable, "-m", "venv", str(venv_dir)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", NEWSPLEASE_REQUIREMENT, *EXTRA_REQUIREMENTS],
                   check=True)
    if not _has_newsplease(python):
        raise RuntimeError(f"news-please did not install into {venv_dir}; see pip's output above")
    return python


def _has_newsplease(python: Path) -> bool:
    check = "import newsplease, tinysegmenter"
    return subprocess.run([str(python), "-c", check], capture_output=True).returncode == 0


def newsplease_version(python: Path) -> str:
    out = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('news-please'))"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "?"
