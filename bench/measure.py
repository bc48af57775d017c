"""Measuring helpers: wall and CPU time of a process tree, percentiles, peak RSS sampling.

CPU of child processes is read with ``getrusage(RUSAGE_CHILDREN)`` around a run: it covers
every descendant that was waited for (a crawl's worker pool included), so short-lived
processes are not missed the way sampling would miss them.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from dataclasses import dataclass

import psutil


@dataclass
class Usage:
    wall: float
    cpu: float              # user + system seconds of this process and its waited-for children

    @property
    def cores_busy(self) -> float:
        return self.cpu / self.wall if self.wall else 0.0


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.usage`` (this process + its children)."""

    def __enter__(self) -> "Stopwatch":
        self._t = time.perf_counter()
        self._self = resource.getrusage(resource.RUSAGE_SELF)
        self._kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return self

    def __exit__(self, *exc) -> None:
        wall = time.perf_counter() - self._t
        s, k = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (s.ru_utime - self._self.ru_utime + s.ru_stime - self._self.ru_stime
               + k.ru_utime - self._kids.ru_utime + k.ru_stime - self._kids.ru_stime)
        self.usage = Usage(wall, cpu)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


class PeakRSS:
    """Samples the resident memory of a process (and its children) in a thread."""

    def __init__(self, pid: int, interval: float = 0.02):
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(self.interval)

    def __enter__(self) -> "PeakRSS":
        self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


ROLES = ("crawl process", "workers", "fork server", "resource tracker", "other")


class TreeCPU:
    """Samples the CPU time and resident memory of a process and each of its descendants while they live.

    ``split()`` -> {"main": seconds, "children": seconds}: the last value seen for each
    process, so workers that exit before the end still count (up to the last sample).
    ``by_role()`` -> per role of :data:`ROLES` (a fork server's children are its workers):
    processes seen, CPU seconds, the largest peak RSS of one process of that role, in bytes.
    ``extra`` names processes outside the tree (the Elasticsearch node) whose RSS is sampled too."""

    def __init__(self, pid: int, interval: float = 0.25, extra: dict[str, int] | None = None):
        self.pid = pid
        self.interval = interval
        self.last: dict[int, float] = {}
        self.peak_rss: dict[int, int] = {}
        self.roles: dict[int, str] = {}
        self.extra = dict(extra or {})
        self.extra_rss: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _role(self, p: psutil.Process) -> str:
        if p.pid == self.pid:
            return "crawl process"
        cmd = " ".join(p.cmdline())
        if "multiprocessing.forkserver" in cmd:
            return "workers" if self.roles.get(p.ppid()) == "fork server" else "fork server"
        if "resource_tracker" in cmd:
            return "resource tracker"
        return "other"

    def _sample(self) -> None:
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            procs = []
        for p in procs:
            try:
                t = p.cpu_times()
                rss = p.memory_info().rss
                if p.pid not in self.roles:
                    self.roles[p.pid] = self._role(p)
            except psutil.Error:
                continue
            self.last[p.pid] = t.user + t.system
            self.peak_rss[p.pid] = max(rss, self.peak_rss.get(p.pid, 0))
        for name, pid in self.extra.items():
            try:
                self.extra_rss[name] = max(psutil.Process(pid).memory_info().rss, self.extra_rss.get(name, 0))
            except psutil.Error:
                pass

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.interval)

    def __enter__(self) -> "TreeCPU":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def split(self) -> dict[str, float]:
        main = self.last.get(self.pid, 0.0)
        return {"main": main, "children": sum(v for k, v in self.last.items() if k != self.pid)}

    def by_role(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for pid, cpu in self.last.items():
            role = self.roles.get(pid, "other")
            r = out.setdefault(role, {"processes": 0, "cpu": 0.0, "peak_rss": 0})
            r["processes"] += 1
            r["cpu"] += cpu
            r["peak_rss"] = max(r["peak_rss"], self.peak_rss.get(pid, 0))
        return {role: out[role] for role in ROLES if role in out}
