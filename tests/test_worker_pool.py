"""The extraction worker pool survives a worker that dies: the crawl goes on."""

import asyncio
import os
import subprocess
import sys
import time

import psutil

from crawler.pipelines import _SharedPool, run_in_pool
from crawler.supervisor import settings_environment
from jobs_helpers import isolated_settings, serve_demo, write_sources


def test_a_dead_worker_is_replaced_and_later_pages_still_run(settings):
    s = settings.replace(extract_workers=1)
    async def scenario():
        _SharedPool.acquire()
        try:
            try:
                await run_in_pool(s, os._exit, 1)  # the worker dies, twice
            except Exception as exc:  # noqa: BLE001 - the page that kills its worker is reported
                died = type(exc).__name__
            else:
                died = None
            return died, await run_in_pool(s, pow, 2, 10)
        finally:
            await _SharedPool.release()

    died, answer = asyncio.run(scenario())
    assert died == "BrokenProcessPool"
    assert answer == 1024


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_killed_crawl_process_leaves_no_fork_server_tracker_or_worker_behind(settings, tmp_path):
    """SIGKILL to the crawl process alone (an OOM kill, the supervisor's kill after its grace
    period): the fork server, its resource tracker and the workers end with it."""
    demo = serve_demo(article_delay=0.5)
    try:
        sources_file = write_sources(demo, tmp_path / "sources.yaml", ["baltic-ledger"], time_limit="5m")
        s = isolated_settings(settings, tmp_path, "orphans", extract_workers=1, concurrent_requests_per_domain=1)
        proc = subprocess.Popen([sys.executable, "-m", "crawler.crawl_process", "--sources", "baltic-ledger",
                                 "--sources-file", str(sources_file), "--stats-file", str(tmp_path / "stats.json")],
                                env=settings_environment(s), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        helpers: list[psutil.Process] = []
        try:
            deadline = time.monotonic() + 120
            while len(helpers) < 3:  # fork server, resource tracker, one worker
                assert proc.poll() is None, "the crawl ended before its workers started"
                assert time.monotonic() < deadline, "the worker pool did not start"
                time.sleep(0.1)
                helpers = psutil.Process(proc.pid).children(recursive=True)
            proc.kill()
            proc.wait()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not all(_gone(p.pid) for p in helpers):
                time.sleep(0.2)
            left = [f"{p.pid} {' '.join(p.cmdline())[:80]}" for p in helpers if not _gone(p.pid)]
            assert left == [], f"processes outlived the killed crawl: {left}"
        finally:
            if proc.poll() is None:
                proc.kill()
            for p in helpers:  # whatever this test left behind (before the fix: all of them)
                if not _gone(p.pid):
                    p.kill()
    finally:
        demo.stop()
