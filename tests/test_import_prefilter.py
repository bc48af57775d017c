"""The topic prefilter of `dealwatch import`: it skips pages before extraction and loses no relevant article.

Specification:
* on the demo sites, every article that an import of every page (``--all``) marks relevant is
  imported by the prefiltered import too, with the same document; the prefiltered import skips
  pages (it is not a filter that lets everything through);
* a page passes only when every concept of a rule that can make it relevant is on it: a platform
  and a bank alone do not make it pass, a platform asking a bank for its customers' data does,
  in Polish with declined names and inflected words too; each page it passes here is one the
  enrichment marks relevant;
* a platform named only in the page's share buttons or menus does not count;
* a ``near`` concept (card + details = customer data) counts only when its words are close;
* a rule that reaches the threshold only with the title bonus makes a page pass only when its
  title carries the topic.
"""

from __future__ import annotations

import pytest

from crawler.backfill.importer import prefilter_for
from import_helpers import (DEMO_SOURCES, counts, demo_pages, documents, drop, import_settings, run_import,
                            write_pages)

pytestmark = pytest.mark.slow


def _page(title: str, paragraphs: list[str], chrome: str = "") -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html><html><head><title>{title}</title></head><body><nav>{chrome}</nav>"
            f"<article><h1>{title}</h1>{body}</article><footer>{chrome}</footer></body></html>")


FILLER = ("The council met on Tuesday evening to discuss the new timetable for the harbour ferries, which will "
          "run every twenty minutes from the spring. Residents asked for later evening crossings.")
SHARE = '<a href="https://facebook.com/sharer">Share on Facebook</a> <a href="/banking/">Banking</a> <span>Google</span>'


ASKS = "Facebook asked JPMorgan Chase to share the card transaction data of its customers."


def _relevant(settings, title: str, paragraphs: list[str]) -> bool:
    from indexer.enrich import analyze_text
    return analyze_text(title, "\n".join(paragraphs), None, settings).relevant


def test_a_page_passes_only_with_every_concept_of_a_rule_inflected_or_not(settings):
    pf = prefilter_for(settings)
    for title, text in (("Local news", [FILLER, ASKS, FILLER, FILLER]),
                        # Polish declension and inflection: "Facebookowi", "danych transakcyjnych klientów"
                        ("Wiadomości", [FILLER, "Bank odmówił Facebookowi udostępnienia danych transakcyjnych swoich "
                                                "klientów.", FILLER, FILLER])):
        assert _relevant(settings, title, text)
        assert pf.passes(_page(title, text))
    # the parties without the act or the data: no rule of the topic can be met
    assert not pf.passes(_page("Local news", [FILLER, "Facebook and Citigroup opened new offices in the city.", FILLER,
                                              FILLER]))
    assert not pf.passes(_page("Local news", [FILLER, "Facebook opened a new office in the city centre.", FILLER, FILLER]))


def test_a_platform_in_the_share_buttons_and_a_bank_in_the_menu_do_not_count(settings):
    pf = prefilter_for(settings)
    data_talk = "Customers asked to share their card transaction data with the ferry company."
    assert not pf.passes(_page("Harbour ferries", [FILLER, data_talk, FILLER, FILLER], chrome=SHARE + " Citigroup"))
    assert pf.passes(_page("Harbour ferries", [FILLER, ASKS, FILLER, FILLER], chrome=SHARE))


def test_a_near_concept_counts_only_when_its_words_are_close(settings):
    pf = prefilter_for(settings)
    near = [FILLER, "Facebook will let users store their card details and see their purchase history in one place.",
            FILLER, FILLER]
    far = [FILLER, "Facebook will store the photos that users share with friends; details of the new album feature "
                   "were published on the card.", FILLER, FILLER]
    assert _relevant(settings, "Local news", near) and pf.passes(_page("Local news", near))
    assert not _relevant(settings, "Local news", far) and not pf.passes(_page("Local news", far))


def test_a_rule_that_needs_the_title_bonus_needs_a_title_carrying_the_topic(settings):
    from crawler.backfill.prefilter import TopicPrefilter
    from indexer.enrich.topic import parse_topic
    from indexer.enrich.watchlist import load_watchlist

    topic = parse_topic({
        "support_min": 0.9, "title_bonus": 0.1, "title_concepts": 2, "title_concepts_of": ["platform", "finance", "data"],
        "concepts": {"platform": {"entity_types": ["platform"]}, "finance": {"entity_types": ["bank"]},
                     "data": {"terms": {"en": ["card data", "customer data"]}}},
        "rules": [{"all": ["platform", "finance"], "score": 0.45}],       # 0.45 + the title bonus reaches 0.5
    })
    pf = TopicPrefilter(load_watchlist(settings.watchlist_file), topic, 0.5)
    text = [FILLER, "Facebook and Citigroup opened new offices in the city.", FILLER, FILLER]
    assert pf.passes(_page("Facebook wants Citigroup card data", text))
    assert not pf.passes(_page("New offices in the city", text))


def test_every_article_the_full_import_marks_relevant_is_imported_by_the_prefiltered_one(settings, tmp_path):
    pages = demo_pages(edition=2)
    warc = write_pages(tmp_path / "demo.warc.gz", pages)
    full = import_settings(settings, tmp_path, "pf-all", sources_file=DEMO_SOURCES)
    pre = import_settings(settings, tmp_path, "pf-pre", sources_file=DEMO_SOURCES)
    try:
        run_import(full, "--all", str(warc.path))
        run_import(pre, str(warc.path))
        everything, kept = documents(full), documents(pre)
        relevant = {i for i, d in everything.items() if d.get("relevant")}
        assert len(relevant) >= 10
        assert relevant <= set(kept), f"lost by the prefilter: {[everything[i]['title'] for i in relevant - set(kept)]}"
        for i in relevant:
            assert kept[i]["content_hash"] == everything[i]["content_hash"]
            assert kept[i]["relevance_score"] == everything[i]["relevance_score"]
        skipped = counts(pre)["prefilter"]
        assert skipped >= len(pages) // 4 and counts(pre)["to_extraction"] == len(pages) - skipped
    finally:
        drop(full)
        drop(pre)
