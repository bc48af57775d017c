"""Warm-up imported once by the extraction pool's fork server (see crawler.worker.make_pool).

Loading trafilatura, the watchlist and topic, the language model and the Polish and English
lemma dictionaries costs seconds of CPU and hundreds of MB. Done here, in the fork server,
it is paid once per crawl process: every worker forked from the server starts warm and shares
those pages copy-on-write, instead of each worker loading its own copy.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

_SAMPLES = (
    ("en", "Banks and platforms", "Facebook asked banks for customers' card transactions and account balances."),
    ("pl", "Banki i platformy", "Facebook prosił banki o dane klientów i historię transakcji kartowych."),
)


def warm_up() -> None:
    from dealwatch.settings import get_settings
    from indexer.documents import enriched_document
    from indexer.schema import Article

    settings = get_settings()
    for lang, title, text in _SAMPLES:
        url = f"http://warm-up.invalid/{lang}"
        enriched_document(Article(url=url, canonical_url=url, source="warm-up", title=title,
                                  text=" ".join([text] * 20), lang=lang), settings)
    enriched_document(Article(url="http://warm-up.invalid/x", canonical_url="http://warm-up.invalid/x",
                              source="warm-up", title="", text=_SAMPLES[0][2] * 5), settings)  # language detection


try:
    import trafilatura  # noqa: F401  (imported for its modules, shared by every worker)
    warm_up()
except Exception as exc:  # noqa: BLE001 - a failed warm-up only means slower workers; they load lazily
    log.warning("extraction worker warm-up failed (workers will load lazily): %s: %s", type(exc).__name__, exc)
finally:
    # what was loaded stays out of the garbage collector's passes: a worker's collections would
    # otherwise write to every object's header and copy all those shared pages into each worker
    gc.collect()
    gc.freeze()
