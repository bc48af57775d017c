"""The lemma dictionaries as shared trie files: the same lemmas as simplemma's own dictionaries, built once."""

import os

import simplemma

from indexer.enrich import dictionaries

WORDS = {
    "pl": ["banków", "Facebooka", "danych", "transakcji", "kartami", "rachunkach", "Zuckerberga", "płatności",
           "przechowuje", "zzzqx"],
    "en": ["banks", "histories", "paid", "stores", "cardholders", "spending", "Citigroup", "zzzqx"],
    "de": ["Banken", "Kundendaten", "gesammelt", "Zahlungen", "zzzqx"],
}


def test_lemmas_and_known_words_are_simplemmas_own(tmp_path):
    factory = dictionaries.SharedTrieDictionaryFactory(tmp_path)
    ours = simplemma.Lemmatizer(
        lemmatization_strategy=simplemma.strategies.DefaultStrategy(dictionary_factory=factory))
    lookup = simplemma.strategies.DictionaryLookupStrategy(factory)
    for lang, words in WORDS.items():
        for word in words:
            assert ours.lemmatize(word, lang) == simplemma.lemmatize(word, lang), (lang, word)
            assert (lookup.get_lemma(word, lang) is not None) == simplemma.is_known(word, lang), (lang, word)
        assert (tmp_path / f"{lang}.marisa").exists()      # built once, then mapped by every process


def test_a_trie_file_is_built_once_and_readable_by_every_user(tmp_path):
    factory = dictionaries.SharedTrieDictionaryFactory(tmp_path)
    factory.get_dictionary("en")
    path = tmp_path / "en.marisa"
    built = path.stat().st_mtime_ns
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    again = dictionaries.SharedTrieDictionaryFactory(tmp_path).get_dictionary("en")
    assert path.stat().st_mtime_ns == built and again.get("banks") == "bank"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_a_damaged_file_is_rebuilt(tmp_path):
    (tmp_path / "en.marisa").write_bytes(b"not a trie")
    assert dictionaries.SharedTrieDictionaryFactory(tmp_path).get_dictionary("en").get("banks") == "bank"


def test_an_unwritable_folder_still_gives_the_lemmas(tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    mapping = dictionaries.SharedTrieDictionaryFactory(blocked / "sub").get_dictionary("en")
    assert mapping.get("banks") == "bank"
