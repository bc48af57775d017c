"""Lemmas: one normalisation for documents and queries, so a word finds its inflected forms."""

from indexer.enrich.lemmas import lemma_tokens


def test_polish_inflections_share_a_lemma():
    assert lemma_tokens("bank banków bankami bankom", "pl") == ["bank"] * 4
    assert lemma_tokens("dane klientów", None) == lemma_tokens("danych klienta", "pl") == ["dane", "klient"]
    assert lemma_tokens("transakcjach kartowych", "pl") == lemma_tokens("transakcje kartowe", None)
    assert lemma_tokens("saldach rachunków", "pl") == lemma_tokens("salda rachunku", None)


def test_english_inflections_share_a_lemma():
    assert lemma_tokens("banks asked for transactions", "en") == ["bank", "ask", "for", "transaction"]
    assert lemma_tokens("Banks", None) == lemma_tokens("bank", "en")


def test_query_without_language_matches_polish_and_english_documents():
    for query, doc, lang in [("bank", "banków", "pl"), ("banks", "bank", "en"), ("klient", "klientami", "pl"),
                             ("balances", "balance", "en")]:
        assert lemma_tokens(query, None) == lemma_tokens(doc, lang)


def test_names_are_lemmatised_like_words():
    assert lemma_tokens("Facebooka Zuckerberga", "pl") == ["facebook", "zuckerberg"]
    assert lemma_tokens("Facebook's Zuckerberg", "en") == ["facebook", "zuckerberg"]
    assert lemma_tokens("Apple", None) == lemma_tokens("Apple", "en") == ["apple"]


def test_one_lower_case_token_per_word_in_order():
    text = "Google’a, Apple’owi i PKO BP: 3,5 mln zł — O'Brien."
    toks = lemma_tokens(text, "pl")
    assert len(toks) == 10
    assert all(t == t.lower() and " " not in t and t for t in toks)
    assert toks[:2] == ["google", "apple"]


def test_diacritics_are_kept():
    assert lemma_tokens("Kraków", "pl") == ["kraków"]
    assert lemma_tokens("żądanie", "pl")[0].startswith("żąd")


def test_empty_and_punctuation_only_text():
    assert lemma_tokens("", None) == []
    assert lemma_tokens(" — !? ", "pl") == []
