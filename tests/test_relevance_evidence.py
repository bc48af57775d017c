"""The evidence sentences behind a topic score: kept for every relevant and every borderline article.

The topic here is a small one written for the test (three made-up concepts), so the sentences and
scores stay fixed while the project's own topic definition is tuned.
"""

from __future__ import annotations

import pytest
import yaml

from dealwatch.settings import load_settings
from indexer.enrich import MAX_EVIDENCE, analyze_text, enrich_document

TOPIC = {
    "window": 1, "support_min": 0.45, "support_bonus": 0.0, "max_support": 2, "title_bonus": 0.0,
    "concepts": {"alpha": {"terms": {"en": ["alpha"]}}, "beta": {"terms": {"en": ["beta"]}},
                 "gamma": {"terms": {"en": ["gamma"]}}},
    "rules": [{"all": ["alpha", "beta", "gamma"], "score": 1.0}, {"all": ["alpha", "beta"], "score": 0.45}],
}

# two early passages that only support the score, the passage that makes it near the end
LONG = ("Alpha and beta talked. Alpha again. A quiet line. Another quiet line. Beta and alpha met. Beta once more. "
        "Quiet. Still quiet. Nothing here. Nothing there. Alpha went on. "
        "Alpha, beta and gamma signed the agreement. Quiet at the end.")


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    path = tmp_path_factory.mktemp("topic") / "topic.yaml"
    path.write_text(yaml.safe_dump(TOPIC), encoding="utf-8")
    return load_settings().replace(topic_file=path, relevance_threshold=0.5, relevance_possible_min=0.3)


def test_the_sentences_that_made_the_score_are_kept_when_there_are_many(cfg):
    a = analyze_text("", LONG, "en", cfg)
    assert a.relevant and a.score == 1.0
    assert len(a.evidence) == MAX_EVIDENCE                      # more windows than room: some are left out
    assert "Alpha, beta and gamma signed the agreement." in a.evidence   # never the passage behind the score
    assert a.evidence == sorted(a.evidence, key=LONG.index)      # in the order of the text


def test_a_borderline_article_keeps_its_evidence(cfg):
    text = "Alpha and beta talked about the weather. Nothing else happened."
    out = enrich_document({"id": "x", "title": "", "text": text, "lang": "en"}, cfg)
    assert not out["relevant"] and cfg.relevance_possible_min <= out["relevance_score"] < cfg.relevance_threshold
    assert out["relevance_evidence"] == ["Alpha and beta talked about the weather."]


def test_an_article_off_the_topic_has_no_evidence(cfg):
    out = enrich_document({"id": "y", "title": "", "text": "Gamma rays from a distant star.", "lang": "en"}, cfg)
    assert out["relevance_score"] == 0 and out["relevance_evidence"] == []
