"""Language of an article: its metadata when present, else py3langid over title + text."""

from __future__ import annotations

from functools import lru_cache

MIN_CHARS = 20


@lru_cache(maxsize=1)
def _classify():
    import py3langid  # loads its model once per process
    return py3langid.classify


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` (None when there is too little text to tell)."""
    sample = " ".join((text or "").split())[:3000]
    if len(sample) < MIN_CHARS:
        return None
    lang, _score = _classify()(sample)
    return lang


def normalize_lang(value: str | None) -> str | None:
    """'pl-PL', 'PL', 'pl_PL' -> 'pl'; empty -> None."""
    if not value:
        return None
    code = str(value).strip().lower().replace("_", "-").split("-")[0]
    return code[:3] or None
