"""The demo's crawl sources: ``seeds/demo/sources.yaml`` moved to the port the sites are served on.

Role in the data flow: the configuration a demo crawl reads. The shipped file names port 8080;
``dealwatch demo`` and the tests serve the sites on another port, so they write the same file
with every loopback URL moved to theirs and hand it to the crawler (``--sources-file``).
Production code never reads it: the crawler knows only the sources file it is given.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from demo_sites.content import DEFAULT_PORT, default_demo_dir

_LOOPBACK_URL = re.compile(r"(http://127(?:\.\d{1,3}){3}):%d\b" % DEFAULT_PORT)


def shipped_sources_file(demo_dir: Path | None = None) -> Path:
    """``seeds/demo/sources.yaml``: the demo sources for sites served on port 8080."""
    return (Path(demo_dir) if demo_dir else default_demo_dir()) / "sources.yaml"


def demo_sources_config(port: int = DEFAULT_PORT, demo_dir: Path | None = None) -> dict[str, Any]:
    """``seeds/demo/sources.yaml`` with every loopback URL moved to ``port``."""
    text = shipped_sources_file(demo_dir).read_text(encoding="utf-8")
    return yaml.safe_load(_LOOPBACK_URL.sub(rf"\g<1>:{port}", text))


def sources_for_port(port: int, demo_dir: Path | None = None) -> list[dict[str, Any]]:
    """The source entries of the demo for sites served on ``port``."""
    return demo_sources_config(port, demo_dir)["sources"]


def write_sources_file(path: Path, port: int, demo_dir: Path | None = None) -> Path:
    """Write a sources.yaml for demo sites served on ``port`` (for ``--sources-file``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(demo_sources_config(port, demo_dir), sort_keys=False, allow_unicode=True),
                    encoding="utf-8")
    return path
