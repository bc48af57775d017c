"""The index: template, alias, strict mapping from the schema, idempotent versioned writes."""

from datetime import datetime, timezone

import pytest
from elasticsearch import BadRequestError

from indexer import schema, store


def make_article(n: int = 1, text: str = "Facebook asked banks for card data.") -> schema.Article:
    return schema.Article(
        url=f"http://news.example/a/{n}?utm_source=x", canonical_url=f"http://news.example/a/{n}",
        source="example", domain="news.example", title=f"Story {n}", text=text, lang="en",
        published_at=datetime(2024, 5, 1, 8, tzinfo=timezone.utc),
    )


def test_alias_points_at_versioned_index_with_the_schema_mapping(es, fresh_index):
    s = fresh_index
    aliases = es.indices.get_alias(name=s.articles_alias)
    assert list(aliases) == [f"{s.articles_alias}-v{schema.SCHEMA_VERSION}"]
    mapping = es.indices.get_mapping(index=s.articles_alias)
    props = next(iter(mapping.values()))["mappings"]["properties"]
    assert set(props) == set(schema.FIELD_NAMES)
    assert next(iter(mapping.values()))["mappings"]["dynamic"] == "strict"


def test_unknown_fields_are_refused_by_the_strict_mapping(es, fresh_index):
    with pytest.raises(BadRequestError):
        es.index(index=fresh_index.articles_alias, id="x", document={"id": "x", "surprise": 1})


def test_rewriting_the_same_article_is_idempotent(es, fresh_index):
    s = fresh_index
    doc = schema.article_to_document(make_article())
    assert store.write_documents(es, s, [doc], refresh=True).new == 1
    again = store.write_documents(es, s, [schema.article_to_document(make_article())], refresh=True)
    assert (again.new, again.unchanged) == (0, 1)
    assert store.count(es, s) == 1


def test_changed_text_makes_a_new_version_and_keeps_the_old_one(es, fresh_index):
    s = fresh_index
    store.write_documents(es, s, [schema.article_to_document(make_article())], refresh=True)
    edited = make_article(text="Facebook asked four banks for card data and balances.")
    res = store.write_documents(es, s, [schema.article_to_document(edited)])
    assert res.updated == 1
    doc = store.get_document(es, s, edited.id)
    assert doc["version"] == 2 and "four banks" in doc["text"]
    old = store.get_versions(es, s, edited.id)  # at once: no refresh needed to see the old text
    assert [v["version"] for v in old] == [1]
    assert old[0]["text"] == "Facebook asked banks for card data."


def test_document_id_comes_from_the_canonical_url():
    a, b = make_article(), make_article()
    b.url = "https://news.example/a/1?fbclid=zzz"
    assert a.id == b.id == schema.article_id("http://news.example/a/1")


def test_every_failed_document_is_named_not_only_the_first_twenty(es, fresh_index):
    s = fresh_index
    docs = []
    for n in range(25):
        doc = schema.article_to_document(make_article(n))
        doc["word_count"] = "not a number"  # refused by the mapping
        docs.append(doc)
    res = store.write_documents(es, s, docs, refresh=True)
    assert res.failed == 25 and len(res.errors) == 20
    assert res.failed_ids == {d["id"] for d in docs}


def test_every_index_takes_the_shards_and_replicas_of_the_settings_and_a_changed_replica_count(es, settings):
    """index_shards/index_replicas reach every index DealWatch creates; replicas also reach existing ones."""
    from indexer.archive import Archive

    s = settings.replace(index_prefix=f"{settings.index_prefix}shards-", index_shards=2)
    archive = Archive(s)
    try:
        archive.ensure()
        names = [store.concrete_index(s), s.versions_index, s.runs_index, s.sources_index]
        current = es.indices.get_settings(index=",".join(names))
        assert {n: (v["settings"]["index"]["number_of_shards"], v["settings"]["index"]["number_of_replicas"])
                for n, v in current.items()} == {n: ("2", "0") for n in names}
        Archive(s.replace(index_replicas=1)).ensure()          # one node: the copies wait, unassigned
        current = es.indices.get_settings(index=",".join(names), name="index.number_of_replicas")
        assert {v["settings"]["index"]["number_of_replicas"] for v in current.values()} == {"1"}
    finally:
        archive.drop()
