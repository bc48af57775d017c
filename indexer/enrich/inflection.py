"""Polish (and English possessive) surface forms of a name, generated from its base form.

Polish declines foreign company and person names: "Facebook" -> Facebooka, Facebookowi,
Facebookiem, Facebooku; "Citigroup" -> Citigroupu, Citigroupem, Citigroupie; "Visa" -> Visy,
Visą, Visę, Visie; "Google" -> Google'a, Googlem, Googla. The matcher indexes these forms, so
a mention is found by exact lookup, whatever its case ending. Forms are lower case.
"""

from __future__ import annotations

VOWELS = set("aeiouyąęó")

# endings added to a name ending in a consonant (Facebook, Citigroup, Zuckerberg, Amazon)
CONSONANT_ENDINGS = ("a", "u", "owi", "em", "iem", "ie", "y", "i", "om", "ami", "ach", "ów", "owie", "owa", "s", "es")
# Hungarian and German case endings on a foreign name (Facebooknak, Facebookot, Googles): only
# on the last word of a name, to keep the number of forms small
OTHER_ENDINGS = ("nak", "nek", "ot", "et", "ra", "re", "ról", "ről", "tól", "től", "hoz", "hez", "ban", "ben", "ba",
                 "be", "on", "nál", "nél", "kal", "kel", "tal", "tel", "val", "vel", "ja", "je")
# endings replacing the final -a (Visa -> Visy, Visą; Europejska -> Europejskiej)
A_ENDINGS = ("y", "i", "ie", "ą", "ę", "om", "ami", "ach", "s", "ej", "iej")
# adjectival names: Polski -> Polskiego, Polskim; Narodowy -> Narodowego, Narodowym
ADJ_I_ENDINGS = ("iego", "iemu", "im", "ich", "a", "iej", "ą")
ADJ_Y_ENDINGS = ("ego", "emu", "ym", "ych", "a", "ej", "ą")
# endings after a final -e that is not pronounced (Google, Apple): Googlem, Googla, Googlowi
E_ENDINGS_ADD = ("m", "a", "owi", "s", "go", "mu")
E_ENDINGS_REPLACE = ("a", "u", "owi", "em", "ach")

# locative/vocative stem alternations: Santander -> Santanderze, Revolut -> Revolucie
ALTERNATIONS = (("r", "rze"), ("st", "ście"), ("t", "cie"), ("d", "dzie"), ("ł", "le"), ("k", "ku"), ("g", "gu"))


def word_forms(word: str, other_languages: bool = False) -> set[str]:
    """Inflected forms of one lower-case word (the word itself included).

    ``other_languages`` adds Hungarian/German endings (used for the last word of a name).
    """
    w = word.lower()
    forms = {w}
    if other_languages and len(w) >= 4 and w[-1].isalpha():
        forms.update(w + e for e in OTHER_ENDINGS)
    if len(w) < 3 or not w[-1].isalpha() or not any(c.isalpha() for c in w[:-1]):
        return forms
    last = w[-1]
    if last == "a":
        stem = w[:-1]
        forms.update(stem + e for e in A_ENDINGS)
        if stem.endswith("t"):
            forms.add(stem[:-1] + "cie")
        elif stem.endswith("k"):
            forms.add(stem[:-1] + "ce")
        forms.add(w + "s")
    elif last == "e":
        forms.update(w + e for e in E_ENDINGS_ADD)
        forms.update(w[:-1] + e for e in E_ENDINGS_REPLACE)
    elif last == "i" and w[-2] in "kg" and len(w) >= 5:  # adjectival: Polski, Zaborski -> Polskiego, Zaborskim
        stem = w[:-1]
        forms.update(stem + e for e in ADJ_I_ENDINGS)
    elif last == "y" and len(w) >= 5:  # adjectival: Narodowy -> Narodowego, Narodowym
        stem = w[:-1]
        forms.update(stem + e for e in ADJ_Y_ENDINGS)
    elif last in VOWELS:  # -o, -i, -u: indeclinable (Pekao, Citi)
        forms.add(w + "s")
    else:
        forms.update(w + e for e in CONSONANT_ENDINGS)
        for end, repl in ALTERNATIONS:
            if w.endswith(end):
                forms.add(w[: -len(end)] + repl)
                break
    return forms


def phrase_forms(tokens: list[str]) -> set[tuple[str, ...]]:
    """Forms of a multi-word name: both words of a two-word name declined independently; in longer
    names the last word declined, or every word with the same ending.

    "Goldman Sachs" -> goldman sachsem, goldmana sachsa, goldmanem sachsem ...; "Wells Fargo"
    stays as it is apart from possessives.
    """
    toks = [t.lower() for t in tokens]
    if not toks:
        return set()
    out = {tuple(toks)}
    if len(toks) == 2:
        # two words decline independently ("Banku Zaborskiego", "Komisji Europejskiej", "Goldmana Sachsa")
        first, second = word_forms(toks[0]), word_forms(toks[1])
        out.update((a, b) for a in first for b in second)
        out.update((toks[0], b) for b in word_forms(toks[1], other_languages=True))
        return out
    for f in word_forms(toks[-1], other_languages=True):
        out.add(tuple(toks[:-1]) + (f,))
    # a Polish head noun before a foreign name: "Banku of America", "Bankiem of America"
    for f in word_forms(toks[0]):
        out.add((f,) + tuple(toks[1:]))
    if len(toks) > 1 and all(len(t) >= 3 and t[-1].isalpha() and t[-1] not in VOWELS for t in toks):
        for e in CONSONANT_ENDINGS:
            out.add(tuple(t + e for t in toks))
    return out
