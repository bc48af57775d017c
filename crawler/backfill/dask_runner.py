"""Beyond one machine: the files of an import spread over a Dask cluster, one task per file.

``dealwatch import --scheduler tcp://host:8786 ...`` connects to a running Dask scheduler (its
workers started with ``dask worker tcp://host:8786 --nthreads 1`` on machines where DealWatch is
installed) and submits one task per file; each task is :func:`crawler.backfill.local.import_one`,
the same unit of work as the local runner's. Dask hands the files out, and when a worker dies it
gives that worker's file to another one; the file's checkpoint in the archive's cluster tells the
new worker where to go on, so the loss is the work since the last checkpoint. The command's own
process only submits, shows the progress (read from the checkpoints) and reports.

Why Dask and not PySpark: the work is a Python function per file that talks to Elasticsearch and
writes pages (no dataframe, no shuffle); Dask distributed runs exactly that, is pure Python and a
``pip install`` away on every worker, and its ``LocalCluster`` is the same scheduler in one
process tree for tests. PySpark would need a JVM and a Spark installation on every machine for a
job that uses none of Spark's data model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from crawler.backfill.filters import ImportOptions
from crawler.backfill.importer import FileResult
from crawler.backfill.inputs import WarcInput
from crawler.backfill.local import import_one


def run_dask(inputs: list[WarcInput], options: ImportOptions, settings, sources_file: Path | None,
             run_id: str, scheduler, on_result: Callable[[FileResult], None] | None = None) -> list[FileResult]:
    """Run the import on the Dask cluster ``scheduler`` (an address, or a ``distributed.Client``)."""
    from distributed import Client, as_completed

    own_client = not isinstance(scheduler, Client)
    client = Client(scheduler) if own_client else scheduler
    path = str(sources_file) if sources_file else None
    try:
        futures = {client.submit(import_one, inp, options, settings, path, run_id, key=f"import-{run_id}-{n}",
                                 pure=False): inp for n, inp in enumerate(inputs)}
        results: list[FileResult] = []
        for future in as_completed(futures):
            inp = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - a task lost to dead workers: reported, resumable
                result = FileResult(inp.key, "failed", error=f"{type(exc).__name__}: {exc}")
            results.append(result)
            if on_result:
                on_result(result)
        return results
    finally:
        if own_client:
            client.close()
