"""The topic prefilter of `dealwatch import`: it skips pages before extraction and loses no relevant article.

Specification:
* on the demo sites, every article that an import of every page (``--all``) marks relevant is
  imported by the prefiltered import too, with the same document; the prefiltered import skips
  pages (it is not a filter that lets everything through);
* a platform named only in the page's share buttons or menus does not make a page pass; a
  declined Polish name in the text does; a platform and a bank named in one article do;
* a page whose only evidence is a platform in its text passes when its title carries the topic
  (the rules that reach the threshold through the title bonus) and not otherwise.
"""

from __future__ import annotations

import pytest

from crawler.backfill.importer import prefilter_for
from import_helpers import DEMO_SOURCES, counts, demo_pages, documents, drop, import_settings, run_import, write_pages

pytestmark = pytest.mark.slow


def _page(title: str, paragraphs: list[str], chrome: str = "") -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html><html><head><title>{title}</title></head><body><nav>{chrome}</nav>"
            f"<article><h1>{title}</h1>{body}</article><footer>{chrome}</footer></body></html>")


FILLER = ("The council met on Tuesday evening to discuss the new timetable for the harbour ferries, which will "
          "run every twenty minutes from the spring. Residents asked for later evening crossings.")
SHARE = '<a href="https://facebook.com/sharer">Share on Facebook</a> <a href="/banking/">Banking</a> <span>Google</span>'


def test_a_platform_in_the_share_buttons_and_a_bank_in_the_menu_do_not_make_a_page_pass(settings):
    pf = prefilter_for(settings)
    assert pf.passes(_page("Harbour ferries", [FILLER, "Facebook and Citigroup.", FILLER, FILLER], chrome=SHARE))
    assert not pf.passes(_page("Harbour ferries to run every twenty minutes", [FILLER, FILLER, FILLER, FILLER], chrome=SHARE))


def test_a_platform_and_a_bank_named_in_the_text_make_it_pass_inflected_or_not(settings):
    pf = prefilter_for(settings)
    assert pf.passes(_page("Local news", [FILLER, "Facebook asked JPMorgan Chase for data on its customers.", FILLER, FILLER]))
    # Polish declension: "Facebookowi", "Citigroupem" are the forms the enrichment matches too
    assert pf.passes(_page("Wiadomości", [FILLER, "Bank odmówił Facebookowi, a rozmowy z Citigroupem trwają.", FILLER, FILLER]))
    assert not pf.passes(_page("Local news", [FILLER, "Facebook opened a new office in the city centre.", FILLER, FILLER]))


def test_a_platform_alone_passes_only_with_a_title_carrying_the_topic(settings):
    pf = prefilter_for(settings)
    text = [FILLER, "Facebook will let users store their card details and see their purchase history in one place.",
            FILLER, FILLER]
    assert pf.passes(_page("Facebook asks users for their card data", text))
    assert not pf.passes(_page("A new look for the harbour", text))


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
        assert skipped >= len(pages) // 4 and counts(pre)["extracted"] == len(pages) - skipped
    finally:
        drop(full)
        drop(pre)
