"""news-please's own WARC path over one WARC file; executed by the news-please venv's python, not ours.

Usage: ``<np-venv>/bin/python bench/newsplease_warc_worker.py WARC [LIMIT] [WARM]``. Reads the file with
warcio (what news-please's CC-NEWS crawler uses) and gives every HTTP response record of an HTML
page to ``NewsPlease.from_warc`` (its extractors: newspaper, readability, date and language), one
process, as news-please's ``commoncrawl_crawler`` processes each WARC file in a process of its own.
Prints one JSON line: records, response records, articles with a text, wall and CPU seconds from the
first record on. Before the clock starts, the first WARM HTML records are given to ``from_warc`` once
(imports and lazily loaded resources, as in a long run; the backfill's run is warmed the same way). No DealWatch import: this runs in a venv holding news-please.
"""

import json
import sys
import time


def main():
    path = sys.argv[1]
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    warm = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    from newsplease import NewsPlease
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as fh:
        done = 0
        for record in ArchiveIterator(fh):
            if done >= warm:
                break
            if record.rec_type == "response" and record.http_headers and \
                    "html" in (record.http_headers.get_header("Content-Type") or "").lower():
                done += 1
                try:
                    NewsPlease.from_warc(record, fetch_images=False)
                except Exception:  # noqa: BLE001 - warming up only
                    pass

    records = pages = articles = failed = 0
    errors = {}
    wall0, cpu0 = time.perf_counter(), time.process_time()
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh):
            records += 1
            if record.rec_type != "response" or not record.http_headers:
                continue
            pages += 1                      # every response record counts as handled, as in the backfill
            ctype = (record.http_headers.get_header("Content-Type") or "").lower()
            if "html" not in ctype:
                continue
            try:
                article = NewsPlease.from_warc(record, fetch_images=False)
                articles += bool(article is not None and getattr(article, "maintext", None))
            except Exception as exc:  # counted, the run goes on
                failed += 1
                key = f"{type(exc).__name__}: {exc}"[:60]
                errors[key] = errors.get(key, 0) + 1
            if limit and pages >= limit:
                break
    print(json.dumps({"records": records, "pages": pages, "articles": articles, "failed": failed,
                      "wall": time.perf_counter() - wall0, "cpu": time.process_time() - cpu0,
                      "errors": dict(sorted(errors.items(), key=lambda kv: -kv[1])[:5])}))


if __name__ == "__main__":
    main()
