"""The relevance bands: relevant, possibly relevant, not about the story.

Enrichment stores a topic score in [0, 1] and ``relevant`` (score >= ``relevance_threshold``).
The bands split the archive in three, by those two fields and one more setting,
``relevance_possible_min``:

- ``relevant``: the stored ``relevant`` flag is true (score >= threshold when enriched),
- ``possible``: not relevant, score >= ``relevance_possible_min`` (the borderline articles a
  person should review: the rules' misses are there),
- ``not``: everything else (lower score, or no score at all).

The three never overlap and always add up to the whole archive, also when the threshold was
changed after enrichment (``dealwatch reenrich`` brings the stored flags up to date). Pure
values: :class:`RelevanceBands` is built from the settings and gives each band's filter clause
(compiled into queries and facet counts by :mod:`indexer.query.compile`), a hit's band, and the
words and score ranges the faces show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BANDS = ("relevant", "possible", "not")
LABELS = {"relevant": "relevant to the story", "possible": "possibly relevant — review",
          "not": "not about the story"}


@dataclass(frozen=True)
class RelevanceBands:
    threshold: float        # settings.relevance_threshold
    possible_min: float     # settings.relevance_possible_min

    def __post_init__(self) -> None:
        if not 0 <= self.possible_min < self.threshold:
            raise ValueError(f"relevance_possible_min ({self.possible_min}) must be at least 0 and below "
                             f"relevance_threshold ({self.threshold}): it is where the 'possibly relevant' "
                             "band starts (DEALWATCH_RELEVANCE_POSSIBLE_MIN).")

    @classmethod
    def from_settings(cls, settings: Any) -> "RelevanceBands":
        return cls(threshold=float(settings.relevance_threshold),
                   possible_min=float(settings.relevance_possible_min))

    # --- queries -----------------------------------------------------------------------
    def clause(self, band: str) -> dict:
        """The Elasticsearch filter of one band."""
        is_relevant = {"term": {"relevant": True}}
        scored = {"range": {"relevance_score": {"gte": self.possible_min}}}
        if band == "relevant":
            return is_relevant
        if band == "possible":
            return {"bool": {"filter": [scored], "must_not": [is_relevant]}}
        if band == "not":
            return {"bool": {"must_not": [is_relevant, scored]}}
        raise ValueError(f"unknown relevance band {band!r}")

    # --- documents and hits ------------------------------------------------------------
    def band_of(self, relevant: bool | None, score: float | None) -> str:
        """The band of a stored document (the same rule as :meth:`clause`)."""
        if relevant:
            return "relevant"
        if score is not None and score >= self.possible_min:
            return "possible"
        return "not"

    # --- words ---------------------------------------------------------------------------
    @staticmethod
    def label(band: str) -> str:
        return LABELS[band]

    def score_range(self, band: str) -> str:
        """The band's scores in words, for tooltips and help."""
        t, p = f"{self.threshold:.2f}", f"{self.possible_min:.2f}"
        return {"relevant": f"topic score ≥ {t}",
                "possible": f"topic score from {p} to below {t}: the rules did not accept it, worth a look",
                "not": f"topic score below {p}"}[band]
