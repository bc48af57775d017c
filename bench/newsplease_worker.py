"""Runs news-please over a list of URLs; executed by the news-please venv's python, not ours.

Usage: ``<np-venv>/bin/python bench/newsplease_worker.py URLS_FILE OUT_DIR WORKERS``.
Each URL is fetched and extracted by ``NewsPlease.from_url`` (news-please's library API:
its own download, then its extractors: newspaper, readability, date and language
extractors), and the article is written as JSON to ``OUT_DIR/<host>/<n>.json`` — the layout of
news-please's file storage. Pages are spread over WORKERS processes (both cores), in the same
order as the URL list. Prints one JSON line with the counts at the end. No DealWatch import:
this file must run in a venv that only holds news-please.
"""

import json
import os
import sys
import time
from multiprocessing import Pool
from urllib.parse import urlsplit


def _one(job):
    n, url, out_dir = job
    from newsplease import NewsPlease
    try:
        article = NewsPlease.from_url(url, fetch_images=False)
    except Exception as exc:  # counted and reported, the run goes on
        return n, False, f"{type(exc).__name__}: {exc}"
    if article is None or not getattr(article, "maintext", None):
        return n, False, "no text"
    folder = os.path.join(out_dir, urlsplit(url).netloc.replace(":", "_"))
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{n}.json"), "w", encoding="utf-8") as fh:
        json.dump(article.get_serializable_dict(), fh, ensure_ascii=False, default=str)
    return n, True, ""


def main():
    urls_file, out_dir, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    urls = [u.strip() for u in open(urls_file, encoding="utf-8") if u.strip()]
    start = time.perf_counter()
    ok = failed = 0
    errors = {}
    with Pool(workers) as pool:
        for _, success, err in pool.imap_unordered(_one, [(n, u, out_dir) for n, u in enumerate(urls)], chunksize=4):
            if success:
                ok += 1
            else:
                failed += 1
                errors[err[:60]] = errors.get(err[:60], 0) + 1
    print(json.dumps({"pages": len(urls), "stored": ok, "failed": failed, "seconds": time.perf_counter() - start,
                      "errors": dict(sorted(errors.items(), key=lambda kv: -kv[1])[:5])}))


if __name__ == "__main__":
    main()
