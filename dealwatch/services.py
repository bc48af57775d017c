"""Background services the quickstart leaves running: the demo sites and the web UI.

Each service is a detached process with a pid file under ``<data_dir>/run`` and a log
under ``<data_dir>/logs``, so a later command (``dealwatch down``, a second ``dealwatch
demo``) can find, reuse or stop it. Elasticsearch has its own lifecycle in indexer/node.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from dealwatch.processes import is_group_leader, read_pid_file, terminate
from dealwatch.settings import Settings


class ServiceError(RuntimeError):
    pass


def _pid_file(settings: Settings, name: str) -> Path:
    return settings.data_dir / "run" / f"{name}.pid"


def running_pid(settings: Settings, name: str) -> int | None:
    return read_pid_file(_pid_file(settings, name))


def start(settings: Settings, name: str, argv: list[str], ready_url: str, timeout: float = 60.0) -> int:
    """Start ``argv`` detached (unless already running) with exactly these ``settings`` and wait until
    ``ready_url`` answers."""
    pid = running_pid(settings, name)
    if pid and _answers(ready_url):
        return pid
    if pid:
        stop(settings, name)
    log_dir = settings.logs_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    _pid_file(settings, name).parent.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, **settings.as_environment()})
    _pid_file(settings, name).write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-10:])
            raise ServiceError(f"{name} exited with code {proc.returncode}; see {log_path}:\n{tail}")
        if _answers(ready_url):
            return proc.pid
        time.sleep(0.3)
    raise ServiceError(f"{name} did not answer at {ready_url} within {timeout:.0f}s; see {log_path}")


def stop(settings: Settings, name: str, timeout: float = 15.0) -> bool:
    pid = running_pid(settings, name)
    if not pid:
        _pid_file(settings, name).unlink(missing_ok=True)
        return False
    terminate(pid, timeout, group=is_group_leader(pid))
    _pid_file(settings, name).unlink(missing_ok=True)
    return True


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2.0)
        return True
    except httpx.HTTPError:
        return False


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
