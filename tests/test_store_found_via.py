"""How an article was found (``found_via``) survives every write: merges, owners, two crawls at once.

The archive stores whole documents; a rewrite of an article another source found keeps that
source's way (``indexer.store.merge_found``), a publisher's own source owns what only search
sources found, and two crawls writing one article at the same moment both keep their way
(conditional writes, re-read on conflict).
"""

from __future__ import annotations

import threading

from indexer import schema, store


def doc(source: str, via: str, text: str = "Platforms asked banks for card data. " * 10, site_name: str = ""):
    article = schema.Article(url="http://127.0.0.21/2026/10/story/", canonical_url="http://127.0.0.21/2026/10/story",
                             source=source, domain="127.0.0.21", title="Story", text=text, lang="en",
                             site_name=site_name)
    d = schema.article_to_document(article)
    d["found_via"] = [via]
    return d


def stored(es, s, doc_id):
    return es.get(index=s.articles_alias, id=doc_id)["_source"]


def test_the_publishers_own_source_adds_its_way_and_owns_what_a_search_found(es, fresh_index):
    s = fresh_index
    first = doc("reach-bing", "search:reach-bing", site_name="Vistula Business Daily")
    assert store.write_documents(es, s, [first], refresh="wait_for").new == 1
    same_text = doc("vistula-business", "feed")
    result = store.write_documents(es, s, [same_text], refresh="wait_for")
    assert (result.new, result.updated, result.unchanged) == (0, 0, 1)
    got = stored(es, s, first["id"])
    assert got["found_via"] == ["search:reach-bing", "feed"] and got["source"] == "vistula-business"
    assert got["site_name"] == "Vistula Business Daily"        # kept: the feed's copy had none
    # a search source that meets it again with a changed text adds a version, not a new owner
    edited = doc("reach-google", "search:reach-google", text="Platforms asked banks for card data, again. " * 10)
    assert store.write_documents(es, s, [edited], refresh="wait_for").updated == 1
    got = stored(es, s, first["id"])
    assert got["found_via"] == ["search:reach-bing", "feed", "search:reach-google"]
    assert got["source"] == "vistula-business" and got["version"] == 2


def test_two_crawls_writing_one_article_at_once_both_keep_their_way(es, fresh_index):
    s = fresh_index
    for round_ in range(4):
        text = f"Round {round_}: platforms asked banks for card data. " * 10
        copies = [doc("reach-bing", "search:reach-bing", text), doc("vistula-business", "feed", text)]
        for c in copies:
            c["id"] = f"race-{round_}"
        gate = threading.Barrier(2)
        results = []

        def write(c):
            gate.wait()
            results.append(store.write_documents(es, s, [dict(c)], refresh="wait_for"))

        threads = [threading.Thread(target=write, args=(c,)) for c in copies]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not any(r.failures for r in results), [r.failures for r in results]
        assert sorted(r.new for r in results) == [0, 1]
        got = stored(es, s, f"race-{round_}")
        assert sorted(got["found_via"]) == ["feed", "search:reach-bing"]
        assert got["source"] == "vistula-business"


def test_met_again_without_a_new_copy(es, fresh_index):
    s = fresh_index
    d = doc("reach-alerts", "search:reach-alerts")
    store.write_documents(es, s, [d], refresh="wait_for")
    result = store.add_found_via(es, s, [(d["id"], "sitemap", "rynek-i-dane")], refresh="wait_for")
    assert result.updated == 1
    got = stored(es, s, d["id"])
    assert got["found_via"] == ["search:reach-alerts", "sitemap"] and got["source"] == "rynek-i-dane"
    # a second site source adds its way but does not take the article from the first
    store.add_found_via(es, s, [(d["id"], "feed", "other-site")], refresh="wait_for")
    got = stored(es, s, d["id"])
    assert got["found_via"] == ["search:reach-alerts", "sitemap", "feed"] and got["source"] == "rynek-i-dane"
    # nothing new: nothing written; an unknown id is a failure
    assert store.add_found_via(es, s, [(d["id"], "feed", None)]).updated == 0
    assert "missing" in store.add_found_via(es, s, [("missing", "feed", None)]).failures
