"""What a user asks the archive: one typed model of search parameters, shared by every face.

The web pages, the JSON API (whose OpenAPI document is generated from this model), the exports,
the Atom feed and the CLI all build a :class:`SearchParams`, so the same words with the same
filters give the same articles everywhere. All of it fits in a URL: :meth:`SearchParams.from_url`
reads URL parameters (repeated keys or comma-separated values for the lists) and
:meth:`SearchParams.to_url` writes them back. A value the archive cannot use is refused with a
:class:`~indexer.errors.BadQuery` whose message says what to write instead.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from dealwatch.dates import parse_day
from indexer.errors import BadQuery
from indexer.query.language import MAX_QUERY_LENGTH, QuerySyntaxError, parse_query

MAX_RESULT_WINDOW = 10_000         # from + size beyond this: use the export
MAX_COMPARE = 3                    # queries compared with the search on its attention chart (4 lines in all)
SORTS = ("relevance", "newest")
RELEVANCE = ("relevant", "possible", "all")   # the bands shown (see indexer.query.bands)
DEFAULT_SIZE = 20
_LIST_FIELDS = ("entities", "entity_types", "sources", "langs", "found_via")


def _bad(message: str) -> PydanticCustomError:
    return PydanticCustomError("bad_search_parameter", message)


class BeyondResultWindow(BadQuery):
    """A page past the first :data:`MAX_RESULT_WINDOW` matches: what to do instead is export or narrow."""

    def __init__(self, message: str, last_page: int):
        super().__init__(message)
        self.last_page = last_page


class SearchParams(BaseModel):
    """A search: query text, filters, sort and page. URL names are the field aliases."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    q: str = Field("", description="Query text (syntax: /help or docs/search.md)")
    entities: tuple[str, ...] = Field((), alias="entity",
                                      description="Entity id; repeat (or comma-separate): all must be mentioned")
    entity_types: tuple[str, ...] = Field((), alias="type", description="Entity type; repeat: any of")
    sources: tuple[str, ...] = Field((), alias="source", description="Source name; repeat: any of")
    langs: tuple[str, ...] = Field((), alias="lang", description="Language code (en, pl, …); repeat: any of")
    found_via: tuple[str, ...] = Field((), description="How the article was found: feed, sitemap, section, "
                                                       "search:<source>, import; repeat: any of")
    date_from: date | None = Field(None, alias="from", description="Published on or after, YYYY-MM-DD")
    date_to: date | None = Field(None, alias="to", description="Published on or before (whole day), YYYY-MM-DD")
    relevance: Literal["relevant", "possible", "all"] = Field(
        "relevant", description="relevant: articles about the story (default); possible: the possibly relevant "
                                "ones, scored just below the threshold, to review; all: every article. "
                                "The older relevant=1 / relevant=0 still work and mean relevant / all.")
    compare: tuple[str, ...] = Field((), description=f"Another query to draw on the attention chart beside q, "
                                                       f"under the same filters; repeat, at most {MAX_COMPARE}")
    sort: str = Field("", description="relevance | newest (default: relevance with a query, newest without)")
    page: int = Field(1, description="Results page, from 1")
    size: int = Field(DEFAULT_SIZE, description="Hits per page (at most the ui_max_page_size setting)")

    # --- reading values as people write them in URLs ------------------------------------
    @model_validator(mode="before")
    @classmethod
    def _older_relevant_flag(cls, data: Any) -> Any:
        """``relevant=1|0`` (older URLs, feeds, bookmarks) and ``relevant_only=True|False`` (older
        callers) as the band they meant, unless ``relevance`` itself is given."""
        if not isinstance(data, dict) or not ({"relevant", "relevant_only"} & data.keys()):
            return data
        data = dict(data)
        older = [data.pop(k) for k in ("relevant", "relevant_only") if k in data]
        if str(_last(data.get("relevance")) or "").strip() == "":
            data["relevance"] = "relevant" if _flag(older[-1]) else "all"
        return data

    @field_validator("q", mode="before")
    @classmethod
    def _query_text(cls, value: Any) -> str:
        value = _last(value)
        return str(value or "").strip()

    @field_validator("compare", mode="before")
    @classmethod
    def _queries(cls, value: Any) -> tuple[str, ...]:
        """Queries hold commas: only repeated parameters make several (empty ones are left out)."""
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else list(value)
        return tuple(dict.fromkeys(q for q in (str(i).strip() for i in items) if q))

    @field_validator(*_LIST_FIELDS, mode="before")
    @classmethod
    def _many(cls, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else list(value)
        out: list[str] = []
        for item in items:
            out += [p.strip() for p in str(item).split(",") if p.strip()]
        return tuple(dict.fromkeys(out))

    @field_validator("date_from", "date_to", mode="before")
    @classmethod
    def _day(cls, value: Any, info) -> date | None:
        value = _last(value)
        if value is None or isinstance(value, date):
            return value
        text = str(value).strip()
        if not text:
            return None
        name = "from" if info.field_name == "date_from" else "to"
        try:
            return parse_day(text)
        except ValueError:
            raise _bad(f"{name} must be a date like 2024-05-31 (got {text!r}).") from None

    @field_validator("relevance", mode="before")
    @classmethod
    def _relevance(cls, value: Any) -> str:
        value = str(_last(value) or "").strip().lower()
        if not value:
            return "relevant"
        if value not in RELEVANCE:
            raise _bad(f"Unknown relevance {value!r}: use one of {', '.join(RELEVANCE)}.")
        return value

    @field_validator("sort", mode="before")
    @classmethod
    def _sort(cls, value: Any) -> str:
        value = str(_last(value) or "").strip()
        if value and value not in SORTS:
            raise _bad(f"Unknown sort {value!r}: use one of {', '.join(SORTS)}.")
        return value

    @field_validator("page", "size", mode="before")
    @classmethod
    def _whole_number(cls, value: Any, info) -> int:
        value = _last(value)
        default = 1 if info.field_name == "page" else DEFAULT_SIZE
        if value is None or str(value).strip() == "":
            return default
        try:
            return int(str(value).strip())
        except ValueError:
            raise _bad(f"{info.field_name} must be a whole number (got {value!r}).") from None

    @model_validator(mode="after")
    def _consistent(self) -> "SearchParams":
        if len(self.q) > MAX_QUERY_LENGTH:
            raise _bad(f"The query is {len(self.q)} characters long; the limit is {MAX_QUERY_LENGTH}.")
        if self.page < 1:
            raise _bad(f"Page numbers start at 1 (got {self.page}).")
        if self.size < 1:
            raise _bad(f"Page size must be at least 1 (got {self.size}).")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise _bad(f"The date range is empty: from {self.date_from} is after to {self.date_to}.")
        parse_query(self.q)  # a QuerySyntaxError says where the query is malformed
        if len(self.compare) > MAX_COMPARE:
            raise _bad(f"At most {MAX_COMPARE} queries can be compared with the search ({MAX_COMPARE + 1} on one "
                       f"chart); {len(self.compare)} were given.")
        for other in self.compare:
            if len(other) > MAX_QUERY_LENGTH:
                raise _bad(f"A compared query is {len(other)} characters long; the limit is {MAX_QUERY_LENGTH}.")
            try:
                parse_query(other)
            except QuerySyntaxError as exc:
                raise _bad(f"In the compared query {other!r}: {exc}") from None
        return self

    # --- construction ------------------------------------------------------------------
    @classmethod
    def from_url(cls, items: Iterable[tuple[str, str]]) -> "SearchParams":
        """From URL-style parameters (repeated keys for several values); BadQuery when unusable."""
        multi: dict[str, list[str]] = {}
        for k, v in items:
            multi.setdefault(k, []).append(v)
        return cls.parse(multi)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> "SearchParams":
        """From a mapping of URL names (or field names) to values; BadQuery when unusable."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise bad_query(exc) from None

    def but(self, **changes: Any) -> "SearchParams":
        """A copy with some fields changed (by field name), validated again."""
        data = self.model_dump()
        data.update(changes)
        return type(self).parse(data)

    # --- use -------------------------------------------------------------------------------
    @property
    def effective_sort(self) -> str:
        return self.sort or ("relevance" if self.q else "newest")

    @property
    def relevant_only(self) -> bool:
        """True when only the articles judged relevant are searched (the default)."""
        return self.relevance == "relevant"

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def checked(self, max_page_size: int, max_filter_values: int | None = None) -> "SearchParams":
        """The bounds that depend on the settings (``ui_max_page_size``, ``ui_max_filter_values``); BadQuery
        with a clear message otherwise."""
        if max_filter_values is not None:
            for name in _LIST_FIELDS:
                values = getattr(self, name)
                if len(values) > max_filter_values:
                    alias = type(self).model_fields[name].alias
                    raise BadQuery(f"At most {max_filter_values} values of {alias}= can be given at once "
                                   f"({len(values):,} were): choose fewer, or search for what they share.")
        if self.size > max_page_size:
            raise BadQuery(f"Page size must be between 1 and {max_page_size} (got {self.size}).")
        if self.offset + self.size > MAX_RESULT_WINDOW:
            last = max(1, MAX_RESULT_WINDOW // self.size)
            raise BeyondResultWindow(
                f"Results beyond the first {MAX_RESULT_WINDOW:,} cannot be paged through (page {self.page}, at "
                f"{self.size} per page, would start at match {self.offset + 1:,}); narrow the query (a date range, a source, "
                "an entity) or use the export (CSV / JSON Lines), which has every match.", last)
        return self

    @property
    def compared(self) -> list["SearchParams"]:
        """The searches drawn on the attention chart: this one, then each compared query under the same filters."""
        return [self, *(self.model_copy(update={"q": other, "compare": ()}) for other in self.compare)]

    def to_url(self, **changes: Any) -> list[tuple[str, str]]:
        """URL parameters for this search (with some fields changed): the inverse of :meth:`from_url`."""
        p = self.model_copy(update=changes) if changes else self
        params: list[tuple[str, str]] = []
        if p.q:
            params.append(("q", p.q))
        params += [("compare", c) for c in p.compare]
        params += [("entity", e) for e in p.entities]
        params += [("type", t) for t in p.entity_types]
        params += [("source", s) for s in p.sources]
        params += [("lang", lang) for lang in p.langs]
        params += [("found_via", v) for v in p.found_via]
        if p.date_from:
            params.append(("from", p.date_from.isoformat()))
        if p.date_to:
            params.append(("to", p.date_to.isoformat()))
        if p.relevance != "relevant":
            params.append(("relevance", p.relevance))
        if p.sort:
            params.append(("sort", p.sort))
        if p.page != 1:
            params.append(("page", str(p.page)))
        if p.size != DEFAULT_SIZE:
            params.append(("size", str(p.size)))
        return params


def _last(value: Any) -> Any:
    """A single-valued URL parameter given several times: the last one counts."""
    if isinstance(value, (list, tuple)):
        return value[-1] if value else None
    return value


def _flag(value: Any) -> bool:
    """The older ``relevant`` flag as it was read: anything but 0/false/no/off/all means yes."""
    value = _last(value)
    if isinstance(value, bool):
        return value
    if value is None or str(value).strip() == "":
        return True
    return str(value).strip().lower() not in {"0", "false", "no", "off", "all"}


def bad_query(exc: ValidationError) -> BadQuery:
    """The first problem of a validation error as the sentence a user sees."""
    from indexer.query.language import QuerySyntaxError

    for err in exc.errors(include_url=False):
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, QuerySyntaxError):
            return ctx_error
        if err.get("type") == "bad_search_parameter":
            return BadQuery(err["msg"])
        where = ".".join(str(p) for p in err.get("loc", ()))
        return BadQuery(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return BadQuery(str(exc))
