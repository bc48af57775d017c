"""Runs the Fundus adapter over a list of pages; executed by the Fundus venv's python, not ours.

Usage: ``<fundus-venv>/bin/python bench/fundus_worker.py JOBS_JSONL OUT_JSONL WORKERS``.
Each input line is ``{"url", "html", "crawled_at"}`` (HTML already decoded by
``crawler.extract.decode_html``, as in the pipeline); each output line, in the same order,
holds whether Fundus has a parser for the host (``supported``), what
:func:`crawler.fundus_extract.parse` returned (``null`` when it has none or the parser failed)
and the CPU seconds the call took in its worker process.
Only :mod:`crawler.fundus_extract` is imported from DealWatch (it needs nothing but fundus
and the standard library), so this measures the adapter the crawler runs.
"""

import json
import sys
import time
from datetime import datetime
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler import fundus_extract  # noqa: E402


def _one(line: str) -> str:
    job = json.loads(line)
    crawled = datetime.fromisoformat(job["crawled_at"]) if job.get("crawled_at") else None
    supported = fundus_extract.publisher_for(job["url"]) is not None
    start = time.process_time()
    try:
        found = fundus_extract.parse(job["html"], job["url"], crawled)
    except Exception as exc:  # counted as a failure (the adapter itself should not raise)
        return json.dumps({"supported": supported, "result": None, "error": f"{type(exc).__name__}: {exc}",
                           "cpu": time.process_time() - start})
    cpu = time.process_time() - start
    result = None
    if found is not None:
        result = {"publisher": found.publisher, "text": found.text, "title": found.title,
                  "authors": list(found.authors),
                  "published_at": found.published_at.isoformat() if found.published_at else None}
    return json.dumps({"supported": supported, "result": result, "cpu": cpu}, ensure_ascii=False)


def _warm(_=None) -> None:
    fundus_extract.available()  # import fundus and build the host table before timing


def main() -> None:
    jobs_file, out_file, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    lines = [line for line in open(jobs_file, encoding="utf-8") if line.strip()]
    start = time.perf_counter()
    with Pool(workers, initializer=_warm) as pool, open(out_file, "w", encoding="utf-8") as out:
        for answer in pool.imap(_one, lines, chunksize=4):
            out.write(answer + "\n")
    print(json.dumps({"pages": len(lines), "seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
