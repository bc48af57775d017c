"""Enrichment alone on real pages: CPU ms per page, resident memory, and a fingerprint of the results.

``python -m bench.enrich_speed`` extracts the 2,175 pages of ``../shared/data/news-pages`` once
with the crawler's extraction (trafilatura, ``extraction_mode``; the texts are cached in the
work folder), then, in a fresh process that has loaded the seeds and the Polish and English
dictionaries as an extraction worker does, runs :func:`indexer.enrich.enrich_document` over
every extracted article and reports:

- CPU milliseconds per page of enrichment alone (``time.process_time`` around the calls; the
  MinHash/LSH bands included, loading excluded), and of its parts when ``--parts`` is given;
- resident memory (RSS) after the warm-up and after enriching every page (other languages'
  dictionaries load on first use), and the peak;
- a fingerprint: a hash of each document's enrichment fields (lemmas, entities, other names,
  relevance, evidence, LSH bands; not ``enriched_at``) and of the near-duplicate clusters the
  pages form when written in batches of 200 (:func:`indexer.enrich.clusters.assign_clusters`).
  ``--save FILE`` keeps the per-document hashes, ``--compare FILE`` names the documents and
  fields that differ from a saved run: the check that a speed-up changed nothing.

``--profile`` prints the cProfile functions that take the time. ``--limit N`` enriches the
first N pages only (a smoke run). ``--write`` records the figures in BENCHMARKS.md under
"Enrichment speed". The machine is shared: CPU figures are indicative.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import pstats
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Enrichment speed (issue 13)"
DEFAULT_WORKDIR = Path("/tmp/dealwatch-bench")
FIELDS = ("title_lemmas", "text_lemmas", "entity_ids", "entity_names", "entity_types", "entities", "other_names",
          "relevance_score", "relevant", "relevance_evidence", "lsh_bands", "lang")


def extracted_texts(workdir: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The articles trafilatura extracts from the news pages (cached as JSON lines in ``workdir``)."""
    cache = workdir / "enrich-speed-articles.jsonl"
    if not cache.exists():
        from bench.corpus import news_pages
        from crawler.extract import extract_article
        from dealwatch.settings import get_settings
        from indexer.schema import Article

        mode = get_settings().extraction_mode
        workdir.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            for page in news_pages():
                url = page.record.get("url") or f"http://{page.key}.invalid/"
                art = extract_article(page.html, url, "bench", mode=mode)
                if isinstance(art, Article):
                    out.write(json.dumps({"id": page.key, "title": art.title, "text": art.text, "lang": art.lang},
                                         ensure_ascii=False) + "\n")
        tmp.rename(cache)
    docs = [json.loads(line) for line in cache.read_text(encoding="utf-8").splitlines() if line.strip()]
    return docs[:limit] if limit else docs


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def doc_hash(out: dict[str, Any]) -> dict[str, str]:
    return {f: hashlib.sha1(json.dumps(out.get(f), ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]
            for f in FIELDS}


def cluster_ids(docs: list[dict[str, Any]], enriched: list[dict[str, Any]], batch: int = 200) -> dict[str, str]:
    """Clusters the pages form when written in batches, with the archive's band lookup done in memory."""
    from dealwatch.settings import get_settings
    from indexer.enrich.clusters import assign_clusters

    stored: list[dict[str, Any]] = []
    by_band: dict[str, list[dict[str, Any]]] = {}
    out: dict[str, str] = {}
    for start in range(0, len(docs), batch):
        chunk = [{"id": d["id"], "title": d["title"], "text": d["text"], "lsh_bands": e["lsh_bands"]}
                 for d, e in zip(docs[start:start + batch], enriched[start:start + batch])]
        keys = {k for c in chunk for k in c["lsh_bands"]}
        seen: dict[str, dict[str, Any]] = {}
        for k in keys:
            for c in by_band.get(k, ()):
                seen[c["id"]] = c
        assign_clusters(chunk, list(seen.values()), get_settings().near_duplicate_threshold)
        for c in chunk:
            out[c["id"]] = c["cluster_id"]
            stored.append(c)
            for k in c["lsh_bands"]:
                by_band.setdefault(k, []).append(c)
    return out


def measure(workdir: Path, limit: int | None, profile: bool, parts: bool) -> dict[str, Any]:
    """In this (fresh) process: warm up like a worker, enrich every page, measure."""
    from dealwatch.settings import get_settings
    from indexer.enrich import enrich_document

    docs = extracted_texts(workdir, limit)
    settings = get_settings()
    rss_start = rss_mb()
    t0 = time.process_time()
    for lang, text in (("en", "Facebook asked banks for customers' card transactions and account balances."),
                       ("pl", "Facebook prosił banki o dane klientów i historię transakcji kartowych.")):
        enrich_document({"id": "w", "title": "warm-up", "text": " ".join([text] * 20), "lang": lang}, settings)
    warm_cpu = time.process_time() - t0
    rss_warm = rss_mb()
    inputs = [{"id": d["id"], "title": d["title"], "text": d["text"], "lang": d["lang"] or None} for d in docs]
    prof = cProfile.Profile() if profile else None
    t0 = time.process_time()
    if prof:
        prof.enable()
    enriched = [enrich_document(dict(doc), settings) for doc in inputs]
    if prof:
        prof.disable()
    cpu = time.process_time() - t0
    rss_after = rss_mb()
    # a second pass over the same texts: the steady state of a long crawl (caches warm, every language loaded)
    t0 = time.process_time()
    for doc in inputs:
        enrich_document(dict(doc), settings)
    cpu_second = time.process_time() - t0
    clusters = cluster_ids(docs, enriched)
    hashes = {d["id"]: {**doc_hash(e), "cluster": clusters[d["id"]]} for d, e in zip(docs, enriched)}
    digest = hashlib.sha1(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:16]
    result = {
        "pages": len(docs), "chars": sum(len(d["text"]) for d in docs),
        "cpu_ms_per_page": 1000 * cpu / max(1, len(docs)),
        "cpu_ms_per_page_second_pass": 1000 * cpu_second / max(1, len(docs)),
        "warm_up_cpu_s": warm_cpu, "rss_start_mb": rss_start, "rss_warm_mb": rss_warm,
        "rss_after_mb": rss_after, "rss_peak_mb": peak_rss_mb(),
        "relevant": sum(1 for e in enriched if e["relevant"]),
        "clusters": len(set(clusters.values())), "digest": digest, "hashes": hashes,
    }
    if parts:
        result["parts"] = part_costs(inputs, settings)
    if prof:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(30)
        result["profile"] = buf.getvalue()
    return result


def part_costs(inputs: list[dict[str, Any]], settings) -> dict[str, float]:
    """CPU ms per page of the steps, each timed alone over every page (warm)."""
    from indexer.enrich import analyze_text
    from indexer.enrich.clusters import lsh_bands
    from indexer.enrich.lemmas import lemma
    from indexer.enrich.text import tokens

    costs: dict[str, float] = {}
    n = max(1, len(inputs))

    def timed(name, fn):
        t0 = time.process_time()
        for doc in inputs:
            fn(doc)
        costs[name] = 1000 * (time.process_time() - t0) / n

    timed("tokens", lambda d: tokens(d["text"]))
    timed("lemmas (tokens + lemma per token)", lambda d: [lemma(t.text, d["lang"]) for t in tokens(d["text"])])
    timed("analysis (lemmas, entities, topic)", lambda d: analyze_text(d["title"], d["text"], d["lang"], settings))
    timed("MinHash/LSH bands", lambda d: lsh_bands(d))
    return costs


def compare(saved: dict[str, Any], hashes: dict[str, dict[str, str]]) -> list[str]:
    lines = []
    old = saved.get("hashes", saved)
    for doc_id in sorted(set(old) | set(hashes)):
        a, b = old.get(doc_id), hashes.get(doc_id)
        if a != b:
            if a is None or b is None:
                lines.append(f"{doc_id}: only in {'this run' if a is None else 'the saved run'}")
            else:
                lines.append(f"{doc_id}: {', '.join(f for f in sorted(set(a) | set(b)) if a.get(f) != b.get(f))}")
    return lines


def report(r: dict[str, Any]) -> str:
    lines = [
        f"| pages | CPU ms/page (first pass) | CPU ms/page (second pass) | warm-up CPU s | RSS after warm-up MB "
        f"| RSS after all pages MB | peak RSS MB | relevant | clusters | fingerprint |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {r['pages']} | {r['cpu_ms_per_page']:.2f} | {r['cpu_ms_per_page_second_pass']:.2f} | "
        f"{r['warm_up_cpu_s']:.1f} | {r['rss_warm_mb']:.0f} | {r['rss_after_mb']:.0f} | {r['rss_peak_mb']:.0f} | "
        f"{r['relevant']} | {r['clusters']} | `{r['digest']}` |",
    ]
    if r.get("parts"):
        lines += ["", "| step (each timed alone, warm) | CPU ms/page |", "|---|---:|"]
        lines += [f"| {k} | {v:.2f} |" for k, v in r["parts"].items()]
    return "\n".join(lines)


def write_benchmarks(body: str) -> Path:
    path = REPO / "BENCHMARKS.md"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    block = f"{SECTION}\n\n{body.rstrip()}\n\n"
    current = pattern.sub(lambda _m: block, current) if pattern.search(current) else current.rstrip() + "\n\n" + block
    path.write_text(current, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.enrich_speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--limit", type=int, default=None, help="enrich the first N pages only (smoke)")
    parser.add_argument("--profile", action="store_true", help="print the functions that take the time")
    parser.add_argument("--parts", action="store_true", help="also time the steps one by one")
    parser.add_argument("--save", type=Path, help="keep the per-document hashes in this JSON file")
    parser.add_argument("--compare", type=Path, help="name the documents whose results differ from a saved run")
    parser.add_argument("--write", action="store_true", help="record the figures in BENCHMARKS.md")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        extracted_texts(args.workdir, args.limit)   # extraction happens here, not in the measured process
    except Exception as exc:  # noqa: BLE001 - the shared data may be missing: say so and stop
        from bench.corpus import MissingData
        if isinstance(exc, MissingData):
            print(f"skipped: {exc}", file=sys.stderr)
            return 0
        raise
    if not args.inner:
        # a fresh process, so that RSS and caches are those of a worker that has done only this
        cmd = [sys.executable, "-m", "bench.enrich_speed", "--inner", "--workdir", str(args.workdir)]
        cmd += (["--limit", str(args.limit)] if args.limit else []) + (["--profile"] if args.profile else [])
        cmd += ["--parts"] if args.parts else []
        proc = subprocess.run(cmd, cwd=REPO, env=os.environ.copy(), capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        result = json.loads(proc.stdout)
    else:
        print(json.dumps(measure(args.workdir, args.limit, args.profile, args.parts)))
        return 0
    print(report(result))
    if result.get("profile"):
        print(result["profile"])
    if args.save:
        args.save.write_text(json.dumps({"digest": result["digest"], "hashes": result["hashes"]}), encoding="utf-8")
        print(f"saved per-document hashes to {args.save}")
    if args.compare:
        diff = compare(json.loads(args.compare.read_text(encoding="utf-8")), result["hashes"])
        print(f"{len(diff)} of {result['pages']} documents differ from {args.compare}" + (":" if diff else "."))
        for line in diff[:50]:
            print("  " + line)
    if args.write:
        body = (f"Command: `python -m bench.enrich_speed --parts --write` (the {result['pages']} pages of "
                f"`shared/data/news-pages` that trafilatura extracts an article from, "
                f"{result['chars'] / max(1, result['pages']):.0f} characters of text on average; one fresh process "
                f"warmed up like an extraction worker; CPU time of `enrich_document` alone; the machine is shared, so "
                f"CPU figures are indicative).\n\n{report(result)}")
        print(f"written to {write_benchmarks(body)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
