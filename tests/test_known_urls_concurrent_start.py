"""Crawl processes that start side by side (``dealwatch crawl -j 2``, the scheduler) open one
known-URL store: the first to arrive creates it, and none of them may take the store being
created for a damaged one (an empty file is what damage looks like)."""

from __future__ import annotations

import threading

from crawler.known_urls import KnownUrls, KnownUrlsDamaged


def test_stores_opened_at_the_same_moment_are_created_once_and_never_called_damaged(tmp_path):
    damaged: list[str] = []
    for round_ in range(30):
        path = tmp_path / f"round-{round_}" / "known_urls.sqlite"
        gate = threading.Barrier(6)

        def open_store() -> None:
            gate.wait()
            try:
                KnownUrls(path).close()
            except KnownUrlsDamaged as exc:
                damaged.append(str(exc))

        threads = [threading.Thread(target=open_store) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert path.stat().st_size > 0
        assert not [p for p in path.parent.iterdir() if ".new-" in p.name]    # nothing left aside
    assert damaged == []


def test_an_empty_store_file_is_still_damage(tmp_path):
    path = tmp_path / "known_urls.sqlite"
    path.write_bytes(b"")
    try:
        KnownUrls(path)
    except KnownUrlsDamaged as exc:
        assert "empty" in str(exc)
    else:
        raise AssertionError("an empty store was opened as if it were fine")
