"""A lemma query finds inflected forms in the real index (documents written through indexer.ingest)."""

from indexer import schema
from indexer.archive import Archive
from indexer.documents import enriched_document
from indexer.enrich.lemmas import lemma_tokens


def article(n: int, title: str, text: str, lang: str = "pl") -> schema.Article:
    return schema.Article(url=f"http://lemmas.example/{n}", canonical_url=f"http://lemmas.example/{n}",
                          source="lemmas", domain="lemmas.example", title=title, text=text, lang=lang)


def search_lemmas(es, settings, query: str) -> set[str]:
    phrase = " ".join(lemma_tokens(query, None))
    resp = es.search(index=settings.articles_alias, size=20,
                     query={"multi_match": {"query": phrase, "type": "phrase",
                                            "fields": ["title_lemmas", "text_lemmas"]}})
    return {h["_source"]["url"].rsplit("/", 1)[1] for h in resp["hits"]["hits"]}


def test_polish_lemma_queries_find_inflected_forms(es, fresh_index):
    s = fresh_index
    docs = [enriched_document(a, s) for a in [
        article(1, "Facebook i banki", "Serwis rozmawiał z bankami o dostępie do danych klienta."),
        article(2, "Raport o rynku", "Żaden z banków nie zgodził się przekazać danych klientów."),
        article(3, "Pogoda", "Jutro w Krakowie będzie padać deszcz."),
        article(4, "Banks and data", "The banks declined to share customer data.", lang="en"),
    ]]
    assert Archive(s).write(docs, refresh=True).new == 4
    assert search_lemmas(es, s, "bank") == {"1", "2", "4"}
    assert search_lemmas(es, s, "dane klientów") == {"1", "2"}
    assert search_lemmas(es, s, "danych klienta") == {"1", "2"}
    assert search_lemmas(es, s, "customer data") == {"4"}
    # the exact-text field is still there for exact phrases
    exact = es.search(index=s.articles_alias, query={"match_phrase": {"text": "danych klientów"}})
    assert [h["_id"] for h in exact["hits"]["hits"]] == [docs[1]["id"]]
