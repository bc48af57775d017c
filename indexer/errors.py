"""The archive's exceptions, and the one place where Elasticsearch's become them.

Everything outside ``indexer/`` sees only these: the web UI maps them to an HTTP status once
(``search_ui/errors.py``), the CLI to an exit code and a sentence once (``dealwatch/cli.py``),
the crawler counts them per source. Each message is meant for the person reading it and never
shows credentials.

- :class:`ArchiveUnavailable`: Elasticsearch is not reachable or did not answer in time (one message
  for both, with the reason in parentheses: to the person reading it they are the same outage).
- :class:`ArchiveMissing`: there is no archive (index) yet.
- :class:`BadQuery`: a request the archive cannot answer as asked (the user can fix it).
- :class:`ArchiveConflict`: a write lost a race with another writer.
- :class:`ArchiveFailure`: Elasticsearch answered with an error that is nobody's input fault.
"""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Any, Callable, TypeVar

from dealwatch.settings import without_credentials

# The Elasticsearch client is imported where an exception is translated, not here: the CLI imports
# these classes to report failures, and ``dealwatch --help`` should not load the client.

log = logging.getLogger(__name__)


class ArchiveError(Exception):
    """Base of the archive's exceptions; ``str(exc)`` is a sentence for the user."""


class ArchiveUnavailable(ArchiveError):
    pass


class ArchiveMissing(ArchiveError):
    pass


class BadQuery(ArchiveError, ValueError):
    pass


class ArchiveConflict(ArchiveError):
    pass


class ArchiveFailure(ArchiveError):
    pass


def display_url(url: str) -> str:
    """A URL (or a comma-separated list of node URLs) as it may be shown: user names and passwords removed."""
    return without_credentials(url)


def unavailable(where: str, why: str) -> ArchiveUnavailable:
    """The one message of an archive that cannot be used now, whatever the transport's reason."""
    return ArchiveUnavailable(f"Elasticsearch at {where} is not available ({why}): check it with `dealwatch es "
                              "status`, start it with `dealwatch es start` (or check DEALWATCH_ES_URL).")


def translate(exc: Exception, url: str, index: str = "", timeout: float | None = None) -> ArchiveError:
    """The project exception for an Elasticsearch (client or transport) exception; ``timeout`` is the
    request timeout the client had (named in the message of a timeout)."""
    from elastic_transport import ConnectionError as TransportConnectionError
    from elastic_transport import ConnectionTimeout, TransportError
    from elasticsearch import ApiError, BadRequestError, ConflictError, NotFoundError

    where = display_url(url)
    if isinstance(exc, ConnectionTimeout):
        return unavailable(where, f"no answer within {timeout:g} s" if timeout else "no answer in time")
    if isinstance(exc, TransportConnectionError):
        return unavailable(where, "no connection")
    if isinstance(exc, NotFoundError) and _error_type(exc) in ("index_not_found_exception", ""):
        return ArchiveMissing(f"There is no articles index '{index or 'articles'}' yet: crawl something first "
                              "(`dealwatch demo` or `dealwatch crawl`).")
    if isinstance(exc, BadRequestError):
        # the faces validate what they send (indexer/query/language.py, params.py): a 400 that still comes
        # back names Elasticsearch's internals, which are for the log, not for the person asking
        log.warning("Elasticsearch refused a request (%s): %s", _error_type(exc) or exc.status_code, _reason(exc))
        return BadQuery("The search index refused this request as too large or too complex: use fewer words, "
                        "fewer brackets inside each other or shorter prefixes.")
    if isinstance(exc, ConflictError):
        return ArchiveConflict(f"Another writer changed the same document at the same time: {_reason(exc)}")
    if isinstance(exc, ApiError):
        return ArchiveFailure(f"The search index answered with an error ({exc.status_code}): {_reason(exc)}")
    if isinstance(exc, TransportError):
        return unavailable(where, type(exc).__name__)
    raise TypeError(f"not an Elasticsearch exception: {exc!r}")


def _error_type(exc: ApiError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    err = body.get("error")
    return err.get("type", "") if isinstance(err, dict) else ""


def _reason(exc: ApiError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    err = body.get("error")
    if isinstance(err, dict):
        root = (err.get("root_cause") or [err])[0]
        return str(root.get("reason") or root.get("type") or exc.message)
    return str(exc.message)


F = TypeVar("F", bound=Callable[..., Any])


@functools.cache
def es_errors() -> tuple[type[Exception], ...]:
    """The Elasticsearch client's exception classes (imported on first use)."""
    from elastic_transport import TransportError
    from elasticsearch import ApiError

    return ApiError, TransportError


def _translate_for(archive: Any, exc: Exception) -> ArchiveError:
    settings = archive.settings
    return translate(exc, settings.effective_es_url, settings.articles_alias, getattr(archive, "timeout", None))


def translated(method: F) -> F:
    """Decorate an :class:`indexer.archive.Archive` method (plain or generator): Elasticsearch
    exceptions raised inside become the project's (the archive knows its URL and index)."""
    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def gen_wrapper(self, *args, **kwargs):
            try:
                yield from method(self, *args, **kwargs)
            except es_errors() as exc:
                raise _translate_for(self, exc) from exc
        return gen_wrapper  # type: ignore[return-value]

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except es_errors() as exc:
            raise _translate_for(self, exc) from exc
    return wrapper  # type: ignore[return-value]
