"""The known-URL store decides what a run fetches: new pages, changed ones, recent ones due a revisit."""

from datetime import datetime, timedelta, timezone

from crawler.known_urls import KnownUrls

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def store(tmp_path):
    return KnownUrls(tmp_path / "known.sqlite", revisit_days=3, revisit_interval_hours=12)


def indexed(k, key, published, fetched, lastmod=None):
    k.mark_fetched(key, "s", "http://" + key, "raw/s/x.warc.gz", 0, 10, lastmod, fetched)
    k.mark_indexed([key], "s", "http://" + key, "http://" + key, "id", "hash", published, fetched)


def test_new_pages_are_fetched_and_archived_ones_are_not(tmp_path):
    k = store(tmp_path)
    assert k.decide("a.example/1", now=NOW).why == "new"
    indexed(k, "a.example/1", published=NOW - timedelta(days=30), fetched=NOW - timedelta(days=1))
    assert k.decide("a.example/1", now=NOW).fetch is False


def test_a_newer_sitemap_or_feed_date_fetches_again(tmp_path):
    k = store(tmp_path)
    indexed(k, "a.example/1", NOW - timedelta(days=30), NOW - timedelta(days=20), lastmod=NOW - timedelta(days=30))
    assert k.decide("a.example/1", lastmod=NOW - timedelta(days=30), now=NOW).fetch is False
    assert k.decide("a.example/1", lastmod=NOW - timedelta(days=2), now=NOW).why == "lastmod"


def test_recent_articles_are_revisited_on_a_slower_cadence(tmp_path):
    k = store(tmp_path)
    indexed(k, "a.example/recent", NOW - timedelta(days=1), NOW - timedelta(hours=2))
    assert k.decide("a.example/recent", now=NOW).fetch is False          # fetched 2 h ago
    assert k.decide("a.example/recent", now=NOW + timedelta(hours=11)).why == "revisit"
    indexed(k, "a.example/old", NOW - timedelta(days=10), NOW - timedelta(days=5))
    assert k.decide("a.example/old", now=NOW).fetch is False             # outside the window


def test_pages_waiting_in_a_warc_are_not_fetched_but_listed_for_recovery(tmp_path):
    k = store(tmp_path)
    k.mark_fetched("a.example/2", "s", "http://a.example/2", "raw/s/x.warc.gz", 123, 45, None, NOW)
    assert k.decide("a.example/2", now=NOW).why == "pending"
    assert [(p.key, p.offset) for p in k.pending("s")] == [("a.example/2", 123)]
    k.forget("a.example/2")
    assert k.decide("a.example/2", now=NOW).why == "new"


def test_dropped_pages_wait_for_a_newer_date_and_the_store_survives_reopening(tmp_path):
    k = store(tmp_path)
    k.mark_dropped("a.example/empty", "s", "http://a.example/empty", "no_text", NOW)
    k.close()
    k = store(tmp_path)
    assert k.decide("a.example/empty", now=NOW + timedelta(days=1)).why == "dropped"
    assert k.decide("a.example/empty", lastmod=NOW + timedelta(hours=1), now=NOW).why == "lastmod"


def test_a_source_whose_documents_left_the_index_is_fetched_again(tmp_path, settings, es):
    from crawler.extensions import forget_lost_source
    from indexer import store as index_store

    s = settings.replace(index_prefix=f"{settings.index_prefix}lost-", data_dir=tmp_path)
    index_store.drop_all(es, s)
    index_store.ensure_index(es, s)
    k = KnownUrls.from_settings(s)
    indexed(k, "a.example/1", NOW - timedelta(days=30), NOW - timedelta(days=1))
    assert k.decide("a.example/1", now=NOW).fetch is False
    forget_lost_source(s, k, "s")            # the index holds no document of source "s"
    assert k.decide("a.example/1", now=NOW).why == "new"
    index_store.drop_all(es, s)
