"""simplemma's lemma dictionaries in a compact, shared form: one MARISA trie file per language.

simplemma ships each language as an lzma-compressed stream and, by default, decodes it into a
Python ``dict`` of bytes: the Polish one alone is hundreds of MB in every process, decoding it
costs seconds of CPU, and its cache holds only 8 languages, so a crawl over 40 languages decodes
some of them again and again. Here each language is decoded once per machine into a MARISA
trie (``marisa-trie``) saved under ``<cache_dir>/lemma-dictionaries/<simplemma version>/``;
every process then maps the file (``mmap``): loading takes milliseconds, the pages are shared by
every process on the machine (the extraction workers, the UI, the CLI) through the OS page cache,
and only the parts a process touches become resident. Lookups return exactly what simplemma's
own dictionaries return, so lemmas do not change.

:data:`LEMMATIZER` and :func:`is_known` are what the enrichment uses instead of
``simplemma.lemmatize`` / ``simplemma.is_known``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import marisa_trie
import simplemma
from simplemma.strategies import DefaultStrategy, DictionaryLookupStrategy
from simplemma.strategies.dictionaries.dictionary_factory import (
    SUPPORTED_LANGUAGES,
    CachingDictionaryFactory,
    DecodedStrMapping,
    _load_dictionary_from_disk,
)
from simplemma.utils import normalize_token

log = logging.getLogger(__name__)

_VERSION = getattr(getattr(simplemma, "__metadata__", None), "__version__", None) or "unknown"


class TrieMapping(DecodedStrMapping):
    """simplemma's str -> str dictionary view over a (mapped) MARISA bytes trie."""

    __slots__ = ("_trie",)

    def __init__(self, trie: marisa_trie.BytesTrie) -> None:
        self._trie = trie

    def _lookup(self, key: str) -> str | None:
        value = self._trie.get(key)
        return value[0].decode() if value else None

    def __iter__(self) -> Iterator[str]:
        yield from self._trie.iterkeys()

    def __len__(self) -> int:
        return len(self._trie)


def cache_folder() -> Path:
    """Where the trie files live: the settings' cache folder (``DEALWATCH_CACHE_DIR``), else the temp folder."""
    try:
        from dealwatch.settings import get_settings
        base = Path(get_settings().cache_dir)
    except Exception as exc:  # noqa: BLE001 - settings unreadable: the temp folder still works
        log.debug("no settings for the lemma dictionary cache (%s): using the temp folder", exc)
        base = Path(tempfile.gettempdir()) / "dealwatch"
    return base / "lemma-dictionaries" / _VERSION


class SharedTrieDictionaryFactory(CachingDictionaryFactory):
    """simplemma dictionary factory: each language a MARISA trie file, built once, then mapped."""

    __slots__ = ("_folder",)

    def __init__(self, folder: Path | None = None, cache_max_size: int = 128) -> None:
        self._folder = folder
        super().__init__(cache_max_size)   # every language a process meets stays (they are small)

    @property
    def folder(self) -> Path:
        if self._folder is None:
            self._folder = cache_folder()
        return self._folder

    def _get_dictionary_uncached(self, lang: str) -> Mapping[str, str]:
        if lang not in SUPPORTED_LANGUAGES:
            raise ValueError(f"Unsupported language: {lang}")
        path = self.folder / f"{lang}.marisa"
        if not path.exists():
            try:
                build(lang, path)
            except OSError as exc:   # a read-only cache folder: keep the trie in memory, unshared
                log.warning("lemma dictionary %s not cached at %s (%s): kept in memory", lang, path, exc)
                return TrieMapping(_trie_of(lang))
        trie = marisa_trie.BytesTrie()
        try:
            trie.mmap(str(path))
        except Exception as exc:  # noqa: BLE001 - a damaged file: rebuild it once
            log.warning("lemma dictionary %s at %s unreadable (%s): rebuilding", lang, path, exc)
            build(lang, path)
            trie = marisa_trie.BytesTrie()
            trie.mmap(str(path))
        return TrieMapping(trie)


def _trie_of(lang: str) -> marisa_trie.BytesTrie:
    raw = _load_dictionary_from_disk(lang)
    return marisa_trie.BytesTrie((k.decode(), v) for k, v in raw.items())


def build(lang: str, path: Path) -> Path:
    """Decode simplemma's dictionary of ``lang`` and save it as a trie at ``path`` (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    trie = _trie_of(lang)
    fd, tmp = tempfile.mkstemp(prefix=f".{lang}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        trie.save(tmp)
        os.chmod(tmp, 0o644)           # shared by every process of the machine, whoever runs it
        os.replace(tmp, path)          # two processes building at once both end with a whole file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info("lemma dictionary %s built at %s", lang, path)
    return path


FACTORY = SharedTrieDictionaryFactory()
# lemmas are remembered per word by indexer.enrich.lemmas: simplemma's own cache only needs to be small
LEMMATIZER = simplemma.Lemmatizer(cache_max_size=4096,
                                  lemmatization_strategy=DefaultStrategy(dictionary_factory=FACTORY))
_LOOKUP = DictionaryLookupStrategy(FACTORY)


def is_known(token: str, lang: str) -> bool:
    """``simplemma.is_known(token, lang)`` over the shared dictionaries (one language)."""
    if not token:
        return False
    return _LOOKUP.get_lemma(normalize_token(token), lang) is not None


def lemmatize(token: str, lang: str | tuple[str, ...]) -> str:
    """``simplemma.lemmatize(token, lang)`` over the shared dictionaries."""
    return LEMMATIZER.lemmatize(token, lang)


def dictionary_items(lang: str) -> list[tuple[str, bytes]]:
    """Every (form, lemma as UTF-8 bytes) of ``lang``'s dictionary, in one pass over its trie (the import's
    prefilter reads it once per process to find the irregular forms of the topic's words)."""
    return FACTORY.get_dictionary(lang)._trie.items()
