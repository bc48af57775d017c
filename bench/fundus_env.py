"""A separate virtual environment for Fundus, the publisher-specific extractor we measure.

Fundus 0.5.7 pins ``lxml<6`` while trafilatura 2.1+ requires ``lxml>=6.1`` (and lxml 5.x is
affected by CVE-2026-41066, fixed in 6.1.0), so it cannot share the project's venv. The
harness creates ``/tmp/dealwatch-bench/fundus-venv`` with ``python -m venv``, installs Fundus there
with pip (plus ``curl_cffi<0.16``: 0.16 removed a function Fundus 0.5.7 imports, and Fundus does
not bound it) and drives it through :mod:`bench.fundus_worker`.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

FUNDUS_REQUIREMENTS = ["fundus>=0.5.7", "curl_cffi<0.16"]
DEFAULT_VENV = Path("/tmp/dealwatch-bench/fundus-venv")


def venv_python(venv_dir: Path = DEFAULT_VENV) -> Path:
    return venv_dir / "bin" / "python"


def ensure_venv(venv_dir: Path = DEFAULT_VENV) -> Path:
    """Create the venv and install Fundus when missing; returns its python."""
    python = venv_python(venv_dir)
    if python.exists() and _has_fundus(python):
        return python
    if not python.exists():
        log.info("creating the Fundus venv in %s (one-off, takes a minute)", venv_dir)
        subprocess.run([sys.executable, "-m", "venv", str(venv_dir)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *FUNDUS_REQUIREMENTS], check=True)
    if not _has_fundus(python):
        raise RuntimeError(f"fundus did not install into {venv_dir}; see pip's output above")
    return python


def _has_fundus(python: Path) -> bool:
    return subprocess.run([str(python), "-c", "import fundus"], capture_output=True).returncode == 0


def versions(python: Path) -> dict[str, str]:
    """Versions of fundus and lxml in that venv (for the report)."""
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps({p: m.version(p) for p in ('fundus', 'lxml')}))")
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    import json
    try:
        return json.loads(out.stdout)
    except ValueError:
        return {}
