"""The seeds of enrichment: the watchlist and the topic load, and bad files say what is wrong."""

import re

import pytest

from dealwatch.settings import load_settings
from indexer.enrich.topic import TopicError, load_topic, parse_topic
from indexer.enrich.watchlist import ENTITY_TYPES, WatchlistError, load_watchlist, parse_watchlist

STORY_NAMES = {"Meta Platforms", "Alphabet", "Amazon", "Apple", "Microsoft", "PayPal", "JPMorgan Chase", "Citigroup",
               "Wells Fargo", "U.S. Bancorp", "Bank of America", "Goldman Sachs", "Mastercard", "Visa",
               "American Express", "Cambridge Analytica", "Mark Zuckerberg", "Donald Trump", "PKO Bank Polski", "mBank",
               "ING", "Santander", "HSBC", "CFPB", "FTC", "European Commission", "UODO", "KNF"}


def test_the_watchlist_covers_the_story_with_typed_stable_ids():
    wl = load_watchlist(load_settings().watchlist_file)
    assert len(wl) >= 80
    ids = [e.id for e in wl]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"Q\d+|dw:[a-z0-9-]+", i) for i in ids)
    assert {e.type for e in wl} == set(ENTITY_TYPES)
    assert STORY_NAMES <= {e.name for e in wl}
    assert all(e.aliases for e in wl)
    assert wl.by_id["Q380"].name == "Meta Platforms"


def test_the_topic_loads_with_its_concepts_and_rules():
    topic = load_topic(load_settings().topic_file)
    names = {c.name for c in topic.concepts}
    assert {"platform", "finance", "data", "deal"} <= names
    assert topic.rules[0].score == 1.0 and topic.rules[0].concepts <= names


@pytest.mark.parametrize("data, message", [
    ({"entities": [{"id": "x", "name": "X"}]}, "missing 'type'"),
    ({"entities": [{"id": "x", "name": "X", "type": "bank"}]}, "no aliases"),
    ({"entities": [{"id": "x", "name": "X", "type": "shop", "aliases": ["X"]}]}, "type must be one of"),
    ({"entities": [{"id": "x", "name": "X", "type": "bank", "aliases": ["X"]},
                   {"id": "x", "name": "Y", "type": "bank", "aliases": ["Y"]}]}, "duplicate id"),
    ({"entities": [{"id": "x", "name": "X", "type": "bank", "aliases": "X", "context": [1]}]}, "list of strings"),
    ([], "'entities' list"),
])
def test_a_malformed_watchlist_names_the_entry_and_the_problem(data, message):
    with pytest.raises(WatchlistError, match=message):
        parse_watchlist(data, "watchlist.yaml")


def test_a_topic_rule_with_an_unknown_concept_is_refused():
    with pytest.raises(TopicError, match="unknown concepts"):
        parse_topic({"concepts": {"platform": {"terms": ["big tech"]}}, "rules": [{"all": ["platform", "bank"],
                                                                                     "score": 1}]}, "topic.yaml")


def test_missing_seed_files_give_the_setting_to_fix(tmp_path):
    with pytest.raises(WatchlistError, match="DEALWATCH_WATCHLIST_FILE"):
        load_watchlist(tmp_path / "none.yaml")
    with pytest.raises(TopicError, match="DEALWATCH_TOPIC_FILE"):
        load_topic(tmp_path / "none.yaml")


@pytest.mark.parametrize("data, message", [
    ({"concepts": {"a": {"terms": ["x"]}, "h": {"helper": True, "terms": ["y"]}},
      "rules": [{"all": ["a", "h"], "score": 1}]}, "helper concepts"),
    ({"concepts": {"a": {"terms": ["x"], "near": [{"concepts": ["a", "zz"]}]}},
      "rules": [{"all": ["a"], "score": 1}]}, "'near' names unknown concepts"),
    ({"concepts": {"a": {"terms": ["x"], "near": [{"concepts": ["a"]}]}},
      "rules": [{"all": ["a"], "score": 1}]}, "'near' needs two concepts"),
    ({"concepts": {"a": {"based_on": "zz"}}, "rules": [{"all": ["a"], "score": 1}]}, "is not a plain concept"),
    ({"concepts": {"a": {"terms": ["x"], "not_inside": ["zz"]}}, "rules": [{"all": ["a"], "score": 1}]},
     "not_inside names unknown"),
    ({"concepts": {"a": {"terms": ["x"]}}, "rules": [{"all": ["a"], "score": 1}], "focus": {"concepts": ["zz"]}},
     "focus"),
])
def test_a_malformed_topic_says_which_part_is_wrong(data, message):
    with pytest.raises(TopicError, match=message):
        parse_topic(data, "topic.yaml")
