"""Lemmas for the ``*_lemmas`` fields and for queries: one normalisation for both.

``lemma_tokens(text, lang)`` turns text into lower-case lemmas, one per word, in word order,
so a phrase query on the lemma field matches inflected phrases ("dane klientów" finds
"danych klienta"). The index's ``whitespace`` analyzer splits the stored string exactly where
this function put spaces. Diacritics are kept (the index has no ASCII folding).

Polish and English are resolved word by word, so documents and queries without a known
language get the same lemma: a word known to only one of the two dictionaries takes that
dictionary's lemma; a word known to both keeps its own form when either dictionary says it is
a base form ("apple", "dane"), otherwise the preferred language decides; unknown words
(names) go through simplemma's Polish-then-English rules ("Zuckerberga" -> zuckerberg).
Other languages use their own simplemma dictionary.
"""

from __future__ import annotations


from indexer.enrich.dictionaries import SUPPORTED_LANGUAGES, is_known, lemmatize
from indexer.enrich.text import split_apostrophe, tokens

# a few frequent domain words whose dictionary lemmas are split between two base forms
# (simplemma: dane -> dana, danych -> dany); the plural noun is what people search for
LEMMA_OVERRIDES = {
    "dane": "dane", "danych": "dane", "danym": "dane", "danymi": "dane",
}


def _lang_ok(lang: str) -> bool:
    return lang in SUPPORTED_LANGUAGES


def lemma(word: str, lang: str | None = None) -> str:
    """The lower-case lemma of one word (see the module docstring for the rules), remembered per language."""
    return lemma_table(lang)[word]


def _lemma(word: str, lang: str | None) -> str:
    w = word.lower()
    base, suffix = split_apostrophe(w)
    if suffix:
        # possessive / Polish case ending after an apostrophe: Facebook's, Google’a, Apple’owi
        w = base if len(suffix) <= 3 or suffix in {"owi", "iem", "ach", "ami"} else base + suffix
    if w in LEMMA_OVERRIDES:
        return LEMMA_OVERRIDES[w]
    if w.isdigit() or len(w) < 2:
        return w
    if lang in (None, "", "pl", "en"):
        prefer = "en" if lang == "en" else "pl"
        known_pl = is_known(w, "pl")
        known_en = is_known(w, "en")
        if known_pl and known_en:
            l_pl = lemmatize(w, "pl").lower()
            l_en = lemmatize(w, "en").lower()
            if l_pl == w or l_en == w:
                return w
            return l_en if prefer == "en" else l_pl
        if known_pl:
            return lemmatize(w, "pl").lower()
        if known_en:
            return lemmatize(w, "en").lower()
        return lemmatize(w, ("pl", "en")).lower()
    if _lang_ok(lang):
        return lemmatize(w, lang).lower()
    return w


class _LemmaTable(dict):
    """word as written -> :func:`lemma` in one language; a plain dict lookup once a word has been seen."""

    __slots__ = ("lang",)
    MAX = 200_000

    def __init__(self, lang: str | None) -> None:
        super().__init__()
        self.lang = lang

    def __missing__(self, word: str) -> str:
        if len(self) >= self.MAX:
            self.clear()
        value = self[word] = _lemma(word, self.lang)
        return value


_TABLES: dict[str | None, _LemmaTable] = {}


def lemma_table(lang: str | None) -> _LemmaTable:
    """The per-process table of lemmas of one language (news vocabulary is Zipfian: most words repeat)."""
    table = _TABLES.get(lang)
    if table is None:
        table = _TABLES[lang] = _LemmaTable(lang)
    return table


def lemma_tokens(text: str, lang: str | None = None) -> list[str]:
    """Lower-case lemmas of the words of ``text``, one per word, in order."""
    lang = (lang or "").lower()[:2] or None
    out = []
    for tok in tokens(text):
        lm = lemma(tok.text, lang)
        # a lemma is one token for the whitespace analyzer
        out.append(lm.replace(" ", "_") if " " in lm else lm)
    return out


def lemma_string(text: str, lang: str | None = None) -> str:
    """``lemma_tokens`` joined by single spaces: the value stored in ``title_lemmas``/``text_lemmas``."""
    return " ".join(lemma_tokens(text, lang))
