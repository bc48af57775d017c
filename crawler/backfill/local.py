"""The default runner: the files of an import spread over processes of this machine, one file each.

No cluster is needed: with one worker (or one file) the import runs in this process; with more, a
pool of worker processes (forked from a fork server that preloaded trafilatura and the seeds, as
the crawler's extraction pool is) takes the files one at a time. A worker dies with the command
(SIGKILL included), so an interrupted import leaves nothing running behind: the next run resumes
every file from its checkpoint. The Dask runner (:mod:`crawler.backfill.dask_runner`) does the
same over many machines.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

from crawler.backfill.filters import ImportOptions, SourceMap
from crawler.backfill.importer import FileResult, import_file
from crawler.backfill.inputs import WarcInput

_worker_state: dict[str, object] = {}


def _init_worker(settings) -> None:
    from dealwatch.processes import die_with_parent
    from dealwatch.settings import set_settings

    die_with_parent()
    if os.getppid() == 1:        # the parent died before prctl took effect
        os._exit(1)
    set_settings(settings)


def _archive(settings):
    """One archive client per process and settings (its indices made sure of once)."""
    from indexer.archive import Archive

    key = f"archive:{settings.effective_es_url}:{settings.index_prefix}"
    if key not in _worker_state:
        archive = Archive(settings)
        archive.ensure()
        _worker_state[key] = archive
    return _worker_state[key]


def _sources(path: str | None) -> SourceMap:
    key = f"sources:{path}"
    if key not in _worker_state:
        _worker_state[key] = SourceMap.from_file(path)
    return _worker_state[key]  # type: ignore[return-value]


def import_one(inp: WarcInput, options: ImportOptions, settings, sources_file: str | None,
               run_id: str) -> FileResult:
    """One file in this process (the task every runner hands out)."""
    return import_file(inp, options, settings, _archive(settings), _sources(sources_file), run_id)


def run_local(inputs: list[WarcInput], options: ImportOptions, settings, sources_file: Path | None,
              run_id: str, workers: int, on_result: Callable[[FileResult], None] | None = None) -> list[FileResult]:
    path = str(sources_file) if sources_file else None
    results: list[FileResult] = []
    workers = max(1, min(workers, len(inputs)))
    if workers == 1:
        for inp in inputs:
            result = import_one(inp, options, settings, path, run_id)
            results.append(result)
            if on_result:
                on_result(result)
        return results
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["crawler.worker_preload"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                             initargs=(settings,)) as pool:
        futures = [pool.submit(import_one, inp, options, settings, path, run_id) for inp in inputs]
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            if on_result:
                on_result(result)
    return results
