"""`reenrich` re-runs enrichment over the stored archive: a watchlist edit changes the stored entities."""

import yaml
from click.testing import CliRunner

from dealwatch.settings import set_settings
from indexer import schema, store
from indexer.archive import Archive
from indexer.documents import enriched_document
from indexer.reenrich import reenrich

TEXT_1 = "Facebook asked Citigroup and Bank Zaborski for card transactions of their customers."
TEXT_2 = "Bank Zaborskiego nie przekazał Facebookowi danych klientów, twierdzi rzecznik."


def article(n: int, text: str, lang: str) -> schema.Article:
    return schema.Article(url=f"http://reenrich.example/{n}", canonical_url=f"http://reenrich.example/{n}",
                          source="reenrich", domain="reenrich.example", title=f"Story {n}", text=text, lang=lang)


def test_reenrich_after_a_watchlist_edit_changes_the_stored_entities(es, fresh_index, tmp_path):
    s = fresh_index
    docs = [enriched_document(article(1, TEXT_1, "en"), s), enriched_document(article(2, TEXT_2, "pl"), s)]
    Archive(s).write(docs, refresh=True)
    assert "Citigroup" in store.get_document(es, s, docs[0]["id"])["entity_names"]
    assert not any("Zaborski" in n for d in docs for n in store.get_document(es, s, d["id"])["entity_names"])

    edited = tmp_path / "watchlist.yaml"
    edited.write_text(yaml.safe_dump({"entities": [
        {"id": "Q380", "name": "Meta Platforms", "type": "platform", "aliases": ["Facebook"]},
        {"id": "dw:zaborski", "name": "Bank Zaborski", "type": "bank", "aliases": ["Bank Zaborski"]},
    ]}, allow_unicode=True), encoding="utf-8")
    result = reenrich(Archive(s.replace(watchlist_file=edited)))
    assert (result.scanned, result.updated, result.failed) == (2, 2, 0)
    assert result.entities_changed == 2

    after = [store.get_document(es, s, d["id"]) for d in docs]
    assert after[0]["entity_names"] == ["Meta Platforms", "Bank Zaborski"]
    assert after[1]["entity_names"] == ["Bank Zaborski", "Meta Platforms"] or \
        set(after[1]["entity_names"]) == {"Bank Zaborski", "Meta Platforms"}
    assert all("Citigroup" not in d["entity_names"] for d in after)
    assert all(d["version"] == 1 and d["cluster_id"] == d["id"] for d in after)   # text and versions untouched
    assert after[0]["enriched_at"] > store.get_document(es, s, docs[0]["id"])["crawled_at"]


def test_reenrich_command_prints_counts(es, fresh_index):
    from dealwatch.cli import main
    s = fresh_index
    set_settings(s)
    Archive(s).write([enriched_document(article(3, TEXT_1, "en"), s)], refresh=True)
    res = CliRunner().invoke(main, ["reenrich", "--source", "reenrich"])
    assert res.exit_code == 0, res.output
    assert "re-enriched 1 of 1 articles" in res.output
