"""Near-duplicate grouping: syndicated and wire copies of one story share a ``cluster_id``.

Each document gets a MinHash (datasketch) of its word 5-shingles; the signature is cut into
LSH bands whose keys are stored in ``lsh_bands`` (computed with the rest of the enrichment,
in the crawler's workers). Before a bulk write the archive looks up earlier documents sharing a
band key (:meth:`indexer.archive.Archive.write`) and hands them to :func:`assign_clusters`, which
also compares documents earlier in the same batch, confirms each candidate with a MinHash
Jaccard estimate, and gives the document the best match's cluster id - or its own id when
nothing is similar enough. Plain Python: no Elasticsearch here.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import numpy as np
from datasketch import MinHash

from indexer.enrich.text import tokens

log = logging.getLogger(__name__)

NUM_PERM = 128
BANDS = 32
ROWS = NUM_PERM // BANDS
SHINGLE = 5
_SEED = 1


MIN_WORDS = 2 * SHINGLE   # shorter texts ("Subscribe now") are not compared: too little to call a copy


def _shingles(text: str) -> list[bytes]:
    words = [t.lower for t in tokens(text)]
    if len(words) < MIN_WORDS:
        return []
    return [" ".join(words[i:i + SHINGLE]).encode("utf-8") for i in range(len(words) - SHINGLE + 1)]


_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=_SEED)


def minhash(text: str) -> MinHash | None:
    """MinHash of the word 5-shingles of ``text`` (None for text without words)."""
    sh = _shingles(text)
    if not sh:
        return None
    m = MinHash(num_perm=NUM_PERM, seed=_SEED, permutations=_TEMPLATE.permutations, scheme=_TEMPLATE.scheme)
    m.update_batch(sh)
    return m


def bands(m: MinHash | None) -> list[str]:
    """LSH band keys of a MinHash: ``<band>-<hash of its rows>``."""
    if m is None:
        return []
    hv = np.asarray(m.hashvalues, dtype=np.uint64)
    return [f"{b:02d}-" + hashlib.blake2b(hv[b * ROWS:(b + 1) * ROWS].tobytes(), digest_size=8).hexdigest()
            for b in range(BANDS)]


MAX_CHARS = 200_000


def doc_text(doc: dict[str, Any]) -> str:
    """The text a document is compared by (its body, or its title when there is no body; the first 200k characters)."""
    return (doc.get("text") or doc.get("title") or "")[:MAX_CHARS]


def lsh_bands(doc: dict[str, Any]) -> list[str]:
    return bands(minhash(doc_text(doc)))


def band_keys(docs: list[dict[str, Any]]) -> list[str]:
    """Every LSH band key of a batch (computing missing ``lsh_bands`` in place): what to look up."""
    for doc in docs:
        if not doc.get("lsh_bands"):
            doc["lsh_bands"] = bands(minhash(doc_text(doc)))
    return sorted({k for d in docs for k in d.get("lsh_bands") or ()})


def assign_clusters(docs: list[dict[str, Any]], stored: list[dict[str, Any]], threshold: float) -> None:
    """Set ``doc["cluster_id"]`` for each document (in place).

    ``stored`` are archived documents sharing a band key with the batch (``id``, ``title``,
    ``text``, ``cluster_id``, ``lsh_bands``), as :func:`band_keys` asked for.
    """
    if not docs:
        return
    sigs: list[MinHash | None] = []
    for doc in docs:
        m = minhash(doc_text(doc))
        sigs.append(m)
        if not doc.get("lsh_bands"):
            doc["lsh_bands"] = bands(m)
    batch_ids = {d["id"] for d in docs}
    stored_sigs = {c["id"]: minhash(doc_text(c)) for c in stored}
    by_band: dict[str, list[dict[str, Any]]] = {}
    for c in stored:
        for k in c.get("lsh_bands") or ():
            by_band.setdefault(k, []).append(c)

    done: list[tuple[dict[str, Any], MinHash | None]] = []
    for doc, sig in zip(docs, sigs):
        best_id, best_j = None, threshold
        if sig is not None:
            my_bands = set(doc.get("lsh_bands") or ())
            seen: set[str] = set()
            for k in my_bands:
                for c in by_band.get(k, ()):
                    cid = c["id"]
                    if cid in seen:
                        continue
                    seen.add(cid)
                    if cid in batch_ids and cid != doc["id"]:
                        continue  # its new version in this batch is compared below
                    cs = stored_sigs.get(cid)
                    if cs is None:
                        continue
                    j = sig.jaccard(cs)
                    if j >= best_j:
                        best_id, best_j = c.get("cluster_id") or cid, j
            for other, osig in done:
                if osig is None or not my_bands & set(other.get("lsh_bands") or ()):
                    continue
                j = sig.jaccard(osig)
                if j >= best_j:
                    best_id, best_j = other["cluster_id"], j
        doc["cluster_id"] = best_id or doc["id"]
        done.append((doc, sig))
