"""Process helpers shared by every part that starts or stops processes.

The local Elasticsearch node, the background services of the quickstart (demo sites, UI), the
crawl processes of the supervisor and the extraction workers all start and stop processes; the
rules for doing it live here once: is a pid alive, read a pid file, stop politely then firmly
(SIGTERM, a grace period, SIGKILL), and let a child die with its parent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (it may belong to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_pid_file(path: Path) -> int | None:
    """The pid written in ``path`` when that process is alive, else None."""
    try:
        pid = int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 0 and pid_alive(pid) else None


def is_group_leader(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except OSError:
        return False


def _send(pid: int, sig: int, group: bool) -> None:
    try:
        os.killpg(pid, sig) if group else os.kill(pid, sig)
    except ProcessLookupError:
        pass


def terminate(pid: int, grace: float, group: bool = False) -> bool:
    """SIGTERM (to its process group when ``group``), wait up to ``grace`` seconds, then SIGKILL.

    Returns True when the process ended by itself within the grace period.
    """
    _send(pid, signal.SIGTERM, group)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.2)
    _send(pid, signal.SIGKILL, group)
    return False


def stop_child(proc: subprocess.Popen, grace: float) -> int:
    """Stop a child process of ours: SIGTERM, wait ``grace`` seconds, SIGKILL. Returns its exit code."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            return proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def die_with_parent() -> None:
    """Linux: this process gets SIGKILL when its parent dies (even by SIGKILL); no orphans left."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's own shutdown still applies
        pass
