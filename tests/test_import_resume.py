"""A backfill killed in the middle resumes where it stopped: on one machine, and on a Dask cluster.

Specification:
* ``dealwatch import`` killed with SIGKILL in the middle of a file, then run again, leaves the
  archive an uninterrupted import leaves: the same documents with the same content hashes,
  none written twice (every one at version 1), none missing; the second run starts at the
  killed run's last checkpoint, not at the first record;
* a Dask cluster of two workers, one of them killed while it imports a file, leaves the archive a
  single-process import leaves; the killed worker's file is finished by a worker that resumes it.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from import_helpers import (DEMO_SOURCES, checkpoints, counts, demo_pages, documents, drop, import_process,
                            import_settings, run_import, write_pages)

pytestmark = pytest.mark.slow


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _archive_state(s) -> dict[str, tuple[str, int]]:
    return {i: (d["content_hash"], d["version"]) for i, d in documents(s).items()}


def test_an_import_killed_mid_file_resumes_from_its_checkpoint_to_the_same_archive(settings, tmp_path):
    pages = demo_pages(edition=2)
    warc = write_pages(tmp_path / "demo.warc.gz", pages).path
    clean = import_settings(settings, tmp_path, "kill-clean", sources_file=DEMO_SOURCES)
    crashy = import_settings(settings, tmp_path, "kill-crash", sources_file=DEMO_SOURCES,
                             index_batch_size=4)
    try:
        run_import(clean, "--all", str(warc))
        expected = _archive_state(clean)
        assert len(expected) == len(pages)

        proc = import_process(crashy, "-j", "1", "--all", str(warc))
        try:
            cp = _wait_for(lambda: next((c for c in checkpoints(crashy)
                                         if c["status"] == "running" and c["records"] >= 30), None),
                           timeout=300, what="the import to checkpoint in the middle of the file")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        killed_at = cp["records"]
        [after_kill] = checkpoints(crashy)
        assert after_kill["status"] == "running" and 0 < after_kill["offset"]      # mid-file, not finished

        run_import(crashy, "--all", str(warc))
        assert _archive_state(crashy) == expected                 # same ids, same hashes, all version 1
        [final] = checkpoints(crashy)
        assert final["status"] == "done" and final["records"] >= killed_at
        c = counts(crashy)
        assert c.get("updated", 0) == 0 and c["new"] + c.get("unchanged", 0) == len(pages)
        assert c["records"] == counts(clean)["records"]           # every record read once in all
    finally:
        drop(clean)
        drop(crashy)


def test_a_dask_worker_killed_mid_file_leaves_the_archive_of_a_single_process_import(settings, tmp_path):
    distributed = pytest.importorskip("distributed")
    from crawler.backfill.dask_runner import run_dask
    from crawler.backfill.filters import ImportOptions
    from crawler.backfill.inputs import expand_all

    pages = demo_pages(edition=2)
    files = []
    for n in range(6):
        files.append(str(write_pages(tmp_path / f"part-{n}.warc.gz", pages[n::6]).path))
    single = import_settings(settings, tmp_path, "dask-single", sources_file=DEMO_SOURCES)
    cluster_s = import_settings(settings, tmp_path, "dask-cluster", sources_file=DEMO_SOURCES,
                                index_batch_size=2)
    try:
        run_import(single, "--all", *files)
        expected = _archive_state(single)

        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      host="127.0.0.1") as cluster, distributed.Client(cluster) as client:
            pids = set(client.run(os.getpid).values())
            runner = ThreadPoolExecutor(1)
            future = runner.submit(run_dask, expand_all(files), ImportOptions(prefilter=False), cluster_s,
                                   DEMO_SOURCES, "daskkill", client)
            host = socket.gethostname()
            busy = _wait_for(lambda: next((c for c in checkpoints(cluster_s) if c["status"] == "running"
                                           and c["records"] >= 4 and int(c["worker"].rsplit(":", 1)[1]) in pids), None),
                             timeout=300, what="a worker in the middle of a file")
            victim = int(busy["worker"].rsplit(":", 1)[1])
            assert busy["worker"].startswith(host)
            os.kill(victim, signal.SIGKILL)
            results = future.result(timeout=600)
            runner.shutdown()
        assert sorted(r.status for r in results) == ["done"] * len(files)
        assert _archive_state(cluster_s) == expected
        finished_by = {c["file"]: c["worker"] for c in checkpoints(cluster_s)}
        assert finished_by[busy["file"]] != busy["worker"]        # another worker finished the killed one's file
        assert all(c["status"] == "done" for c in checkpoints(cluster_s))
    finally:
        drop(single)
        drop(cluster_s)
