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


def words_of(text: str) -> list[str]:
    """The lower-case words shingles are made of (the enrichment's tokens)."""
    return [t.text.lower() for t in tokens(text)]


def _shingle_hashes(words: list[str]) -> list[int]:
    """datasketch's default 32-bit SHA-1 hash of each word 5-shingle, computed in one pass."""
    if len(words) < MIN_WORDS:
        return []
    sha1 = hashlib.sha1
    encoded = [w.encode("utf-8") for w in words]
    joined = b" ".join(encoded)
    offsets = [0]
    for w in encoded:                      # where each word starts in ``joined``
        offsets.append(offsets[-1] + len(w) + 1)
    digests = b"".join([sha1(joined[offsets[i]:offsets[i + SHINGLE] - 1]).digest()[:4]
                        for i in range(len(words) - SHINGLE + 1)])
    return np.frombuffer(digests, dtype="<u4").tolist()


_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=_SEED)


def _prehashed(value: int) -> int:
    return value


def minhash_words(words: list[str]) -> MinHash | None:
    """MinHash of the 5-shingles of lower-case ``words`` (None when there are too few words).

    The shingles are hashed here exactly as datasketch's default ``sha1_hash32`` would, in one
    pass, and handed to datasketch already hashed: the signature (and so the stored band keys)
    is the one ``MinHash.update_batch`` gives on the shingles' bytes.
    """
    hashes = _shingle_hashes(words)
    if not hashes:
        return None
    m = MinHash(num_perm=NUM_PERM, seed=_SEED, hashfunc=_prehashed, permutations=_TEMPLATE.permutations,
                scheme=_TEMPLATE.scheme)
    m.update_batch(hashes)
    return m


def minhash(text: str) -> MinHash | None:
    """MinHash of the word 5-shingles of ``text`` (None for text without words)."""
    return minhash_words(words_of(text))


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


def lsh_bands(doc: dict[str, Any], text_words: list[str] | None = None) -> list[str]:
    """Band keys of a document; ``text_words`` = :func:`words_of` its text, when the caller has them."""
    if text_words is not None and doc.get("text"):
        return bands(minhash_words(text_words))
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
