"""The one query builder: search parameters in, an Elasticsearch body and a plain answer out.

Everything that searches the archive goes through here — the web pages, the JSON API, the
Atom feed, the CSV/JSON Lines export, the alerts and ``dealwatch search|export`` — so the same
words with the same filters give the same articles everywhere. One module per job:

- :mod:`~indexer.query.language`: the query language (text → AST; pure Python),
- :mod:`~indexer.query.urls`: the spellings a pasted URL may be stored under (pure),
- :mod:`~indexer.query.params`: :class:`SearchParams`, the typed parameters every face builds,
- :mod:`~indexer.query.bands`: the relevance bands (relevant, possibly relevant, not) from the settings,
- :mod:`~indexer.query.compile`: AST + filters → Elasticsearch bodies (pure functions),
- :mod:`~indexer.query.execute`: running them and turning answers into :mod:`~indexer.query.results`,
- :mod:`~indexer.query.readmodels`: the data behind the article, entity and sources pages.

Callers outside ``indexer/`` reach execute and readmodels through :class:`indexer.archive.Archive`.
"""

from indexer.errors import BadQuery
from indexer.query.bands import BANDS, RelevanceBands
from indexer.query.compile import HL_POST, HL_PRE
from indexer.query.language import MAX_QUERY_LENGTH, QUERY_FIELDS, QuerySyntaxError, parse_query
from indexer.query.params import (DEFAULT_SIZE, MAX_COMPARE, MAX_RESULT_WINDOW, RELEVANCE, SORTS, BeyondResultWindow,
                                  SearchParams)
from indexer.query.results import (Attention, Bucket, FacetValue, Histogram, Hit, SearchResult, Series, entities_of,
                                   strip_highlight)

__all__ = ["BadQuery", "BANDS", "RELEVANCE", "RelevanceBands", "HL_POST", "HL_PRE", "MAX_QUERY_LENGTH",
           "QUERY_FIELDS", "QuerySyntaxError", "parse_query", "DEFAULT_SIZE", "MAX_COMPARE", "MAX_RESULT_WINDOW",
           "SORTS", "BeyondResultWindow", "SearchParams", "Attention", "Bucket", "FacetValue", "Histogram", "Hit",
           "SearchResult", "Series", "entities_of", "strip_highlight"]
