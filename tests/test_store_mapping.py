"""An archive made before a field was added to the schema takes the new field in place.

Specification: ``ensure_index`` on an existing ``articles-v<N>`` whose mapping lacks fields of
indexer/schema.py adds them (the documents stay, documents with the new fields can be written);
a field whose type changed is refused with a sentence that says a new schema version is needed.
"""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError

from indexer import schema, store
from indexer.errors import ArchiveFailure

NEW_FIELDS = {"found_via", "import_warc", "import_offset"}


def _old_index(es, s, mapping: dict) -> None:
    """The articles index as an earlier release created it: its own mapping, behind the alias."""
    store.drop_all(es, s)
    es.indices.create(index=store.concrete_index(s), settings=schema.index_settings(s), mappings=mapping,
                      aliases={s.articles_alias: {"is_write_index": True}})


@pytest.fixture()
def s(settings):
    s = settings.replace(index_prefix=f"{settings.index_prefix}mapping-")
    yield s
    from indexer.client import make_client
    store.drop_all(make_client(s), s)


def test_an_existing_index_without_the_new_fields_gets_them_and_keeps_its_documents(es, s):
    old = schema.index_mapping()
    old["properties"] = {k: v for k, v in old["properties"].items() if k not in NEW_FIELDS}
    _old_index(es, s, old)
    es.index(index=s.articles_alias, id="old", document={"id": "old", "title": "Written before"}, refresh=True)
    with pytest.raises(BadRequestError):
        es.index(index=s.articles_alias, id="new", document={"id": "new", "found_via": ["import"]})

    assert store.ensure_index(es, s) == store.concrete_index(s)

    props = next(iter(es.indices.get_mapping(index=s.articles_alias).values()))["mappings"]["properties"]
    assert NEW_FIELDS <= set(props) and set(props) == set(schema.FIELD_NAMES)
    es.index(index=s.articles_alias, id="new", document={"id": "new", "found_via": ["import"]}, refresh=True)
    assert es.count(index=s.articles_alias)["count"] == 2
    assert es.count(index=s.articles_alias, query={"term": {"found_via": "import"}})["count"] == 1


def test_a_changed_field_type_is_refused_with_the_schema_version_sentence(es, s):
    old = schema.index_mapping()
    old["properties"] = {**old["properties"], "word_count": {"type": "keyword"}}
    _old_index(es, s, old)
    with pytest.raises(ArchiveFailure, match="SCHEMA_VERSION"):
        store.ensure_index(es, s)
