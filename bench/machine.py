"""Machine facts recorded with every benchmark: CPU, cores, memory, versions."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
from datetime import datetime, timezone

import psutil

from bench.measure import load_average


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def es_version(es) -> str:
    try:
        info = es.nodes.info(node_id="_local", metric="jvm")
        node = next(iter(info["nodes"].values()))
        return f"{node['version']} (heap {node['jvm']['mem']['heap_max_in_bytes'] / 2**30:.1f} GiB)"
    except Exception as exc:  # noqa: BLE001 - a fact we could not read is shown as such
        return f"unknown ({type(exc).__name__})"


def facts(es=None, newsplease_version: str | None = None) -> dict[str, str]:
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu_model()}, {os.cpu_count()} cores",
        "memory": f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "load average (1/5/15 min) at start": load_average(),
        "python": platform.python_version(),
        "elasticsearch": es_version(es) if es is not None else "?",
        "elasticsearch-py": _version("elasticsearch"),
        "trafilatura": _version("trafilatura"),
        "scrapy": _version("scrapy"),
        "news-please": newsplease_version or "(separate venv, see section 1)",
    }
