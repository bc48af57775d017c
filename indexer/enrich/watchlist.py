"""The watchlist (``seeds/watchlist.yaml``): the entities DealWatch monitors, loaded once per process.

Each entity has a stable id (Wikidata QID where known, else ``dw:<slug>``), a canonical name,
a type, and the ways it is written:

- ``aliases``: a list, or a mapping language -> list (``any`` for every language). Matched
  case-insensitively on whole words, with Polish case endings ("Facebooka", "Citigroupem"),
  possessives ("Facebook's") and, for long single-word names, one-letter misspellings
  ("Citygroup"). An alias written with a capital letter only matches a capitalised word, so
  "apple" the fruit or "chase" the verb never count.
- ``abbreviations``: exact case, whole word, no inflection (``FB``, ``JPM``, ``HSBC``).
- ``ambiguous``: exact case; counts only when the entity is also named unambiguously in the
  same article, or one of ``context`` occurs in the same or a neighbouring sentence
  ("Chase", "Meta", "X", tickers).
- ``context``: words that confirm an ambiguous alias (``word*`` = any word starting so).
- ``not_before`` / ``not_after``: words that veto a match when they follow / precede it
  ("Apple pie", "Big Apple").
- ``ambiguous_after``: words that make any alias ambiguous when they precede it ("the Amazon"
  is a river unless the article names the company otherwise or company words are near).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

ENTITY_TYPES = ("platform", "bank", "card_network", "fintech", "regulator", "person", "organization")


class WatchlistError(ValueError):
    """The watchlist file is malformed (message names the entry and the problem)."""


@dataclass(frozen=True, eq=False)
class Entity:
    id: str
    name: str
    type: str
    aliases_by_lang: dict[str, tuple[str, ...]]  # lang ("any", "en", "pl", ...) -> aliases
    abbreviations: tuple[str, ...] = ()
    ambiguous: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    not_before: frozenset[str] = frozenset()
    not_after: frozenset[str] = frozenset()
    ambiguous_after: frozenset[str] = frozenset()
    fuzzy: bool = True
    description: str = ""

    @property
    def aliases(self) -> tuple[str, ...]:
        """Every way the entity is written (all languages, abbreviations, ambiguous forms), for display and search."""
        seen: dict[str, None] = {}
        for names in (*self.aliases_by_lang.values(), self.abbreviations, self.ambiguous):
            for n in names:
                seen.setdefault(n, None)
        return tuple(seen)


@dataclass(frozen=True, eq=False)
class Watchlist:
    entities: tuple[Entity, ...]
    path: str = ""
    by_id: dict[str, Entity] = field(default_factory=dict, compare=False, hash=False)

    def __len__(self) -> int:
        return len(self.entities)

    def __iter__(self):
        return iter(self.entities)


def _str_list(value, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise WatchlistError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(v.strip() for v in value if v.strip())


def parse_watchlist(data: dict, path: str = "") -> Watchlist:
    if not isinstance(data, dict) or not isinstance(data.get("entities"), list):
        raise WatchlistError(f"{path}: expected a mapping with an 'entities' list")
    entities: list[Entity] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["entities"]):
        where = f"{path}: entities[{i}]"
        if not isinstance(raw, dict):
            raise WatchlistError(f"{where}: expected a mapping")
        for key in ("id", "name", "type"):
            if not raw.get(key):
                raise WatchlistError(f"{where}: missing '{key}'")
        where = f"{path}: entity {raw['id']} ({raw['name']})"
        if raw["id"] in seen:
            raise WatchlistError(f"{where}: duplicate id")
        seen.add(raw["id"])
        if raw["type"] not in ENTITY_TYPES:
            raise WatchlistError(f"{where}: type must be one of {', '.join(ENTITY_TYPES)}")
        aliases_raw = raw.get("aliases") or []
        if isinstance(aliases_raw, (list, str)):
            aliases = {"any": _str_list(aliases_raw, where)}
        elif isinstance(aliases_raw, dict):
            aliases = {str(lang): _str_list(v, f"{where} aliases.{lang}") for lang, v in aliases_raw.items()}
        else:
            raise WatchlistError(f"{where}: aliases must be a list or a mapping language -> list")
        written = {a for v in aliases.values() for a in v} | set(_str_list(raw.get("abbreviations"), where)) \
            | set(_str_list(raw.get("ambiguous"), where)) | set(_str_list(raw.get("tickers"), where)) \
            | set(_str_list(raw.get("tickers_unambiguous"), where))
        if not written:
            # the canonical name is not matched by itself ("Wise", "X (Twitter)" would be wrong): list it
            raise WatchlistError(f"{where}: no aliases, abbreviations or ambiguous names to match")
        entities.append(Entity(
            id=str(raw["id"]), name=str(raw["name"]), type=str(raw["type"]), aliases_by_lang=aliases,
            abbreviations=_str_list(raw.get("abbreviations"), where) + _str_list(raw.get("tickers_unambiguous"), where),
            ambiguous=_str_list(raw.get("ambiguous"), where) + _str_list(raw.get("tickers"), where),
            context=tuple(c.lower() for c in _str_list(raw.get("context"), where)),
            not_before=frozenset(w.lower() for w in _str_list(raw.get("not_before"), where)),
            not_after=frozenset(w.lower() for w in _str_list(raw.get("not_after"), where)),
            ambiguous_after=frozenset(w.lower() for w in _str_list(raw.get("ambiguous_after"), where)),
            fuzzy=bool(raw.get("fuzzy", True)),
            description=str(raw.get("description") or ""),
        ))
    wl = Watchlist(tuple(entities), path=path)
    wl.by_id.update({e.id: e for e in entities})
    return wl


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> Watchlist:
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    wl = parse_watchlist(data, path)
    log.debug("loaded %d watchlist entities from %s", len(wl), path)
    return wl


def load_watchlist(path: str | Path) -> Watchlist:
    """The watchlist at ``path`` (cached per process; re-read when the file changes)."""
    p = Path(path)
    try:
        mtime = p.stat().st_mtime
    except FileNotFoundError as exc:
        raise WatchlistError(f"watchlist not found: {p} (set DEALWATCH_WATCHLIST_FILE)") from exc
    return _load(str(p), mtime)
