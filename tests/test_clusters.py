"""Near-duplicates: syndicated copies of one story share a cluster id; an unrelated story does not."""

from indexer import schema, store
from indexer.archive import Archive
from indexer.documents import enriched_document
from indexer.enrich.clusters import lsh_bands, minhash

STORY = ("Facebook has asked large U.S. banks to share detailed financial information about their customers, "
         "including card transactions and checking account balances, as part of an effort to offer new services "
         "to users, according to people familiar with the matter. The social network approached JPMorgan Chase, "
         "Citigroup, Wells Fargo and U.S. Bancorp about the proposal over the past year. One large bank pulled "
         "away from the talks because of privacy concerns, the people said. A spokeswoman for Facebook said the "
         "company does not use the information for advertising and that it was not seeking transaction data. "
         "The banks declined to comment on the discussions.")
COPY = (STORY.replace("Facebook has asked", "Facebook Inc has asked")
        .replace("over the past year", "in recent months")
        .replace("The banks declined to comment on the discussions.", "Representatives of the banks declined to comment.")
        + " Reporting by a wire service; editing by the desk.")
OTHER = ("The city council approved a new budget for public transport on Tuesday. Bus fares will stay the same, "
         "while two new tram lines are planned to open in the north of the city by the end of next year, officials "
         "said. The opposition criticised the plan as too expensive and called for a referendum on the project.")


def article(n: int, text: str, title: str = "") -> schema.Article:
    return schema.Article(url=f"http://wire{n}.example/story", canonical_url=f"http://wire{n}.example/story",
                          source=f"wire{n}", domain=f"wire{n}.example", title=title or f"Story {n}", text=text,
                          lang="en")


def test_edited_copies_are_similar_and_share_band_keys():
    a, b, c = minhash(STORY), minhash(COPY), minhash(OTHER)
    assert a.jaccard(b) > 0.5 > a.jaccard(c)
    assert set(lsh_bands({"text": STORY})) & set(lsh_bands({"text": COPY}))
    assert not set(lsh_bands({"text": STORY})) & set(lsh_bands({"text": OTHER}))


def test_copies_written_later_join_the_first_copys_cluster(es, fresh_index):
    s = fresh_index
    first = enriched_document(article(1, STORY), s)
    Archive(s).write([first], refresh=True)
    later = [enriched_document(article(2, COPY, title="Banks were asked for data"), s), enriched_document(article(3, OTHER), s)]
    Archive(s).write(later, refresh=True)
    stored = {d["id"]: store.get_document(es, s, d["id"]) for d in [first, *later]}
    assert stored[first["id"]]["cluster_id"] == first["id"]
    assert stored[later[0]["id"]]["cluster_id"] == first["id"]
    assert stored[later[1]["id"]]["cluster_id"] == later[1]["id"]


def test_copies_in_one_batch_share_a_cluster(es, fresh_index):
    s = fresh_index
    docs = [enriched_document(article(n, t), s) for n, t in [(1, STORY), (2, OTHER), (3, COPY)]]
    Archive(s).write(docs, refresh=True)
    ids = [store.get_document(es, s, d["id"])["cluster_id"] for d in docs]
    assert ids == [docs[0]["id"], docs[1]["id"], docs[0]["id"]]


def test_the_signature_is_datasketchs_own_on_the_shingles_bytes():
    # the shingles are hashed in one pass and handed over pre-hashed: the stored band keys must not change
    from datasketch import MinHash

    from indexer.enrich.clusters import NUM_PERM, SHINGLE, _SEED, bands, words_of

    for text in (STORY, COPY, OTHER, "Zażółć gęślą jaźń, powiedział Jan Kowalski z Kraków-Nowa Huta. " * 3):
        words = words_of(text)
        reference = MinHash(num_perm=NUM_PERM, seed=_SEED)
        reference.update_batch([" ".join(words[i:i + SHINGLE]).encode("utf-8")
                                for i in range(len(words) - SHINGLE + 1)])
        ours = minhash(text)
        assert (ours.hashvalues == reference.hashvalues).all()
        assert bands(ours) == bands(reference)


def test_enrichment_bands_come_from_the_analysis_tokens_and_equal_the_texts_own(settings):
    from indexer.enrich import enrich_document

    doc = {"id": "x", "title": "Facebook and the banks", "text": STORY, "lang": "en"}
    assert enrich_document(doc, settings)["lsh_bands"] == lsh_bands({"text": STORY})
    untitled = {"id": "y", "title": "Only a title of more than ten words, so it has its own band keys", "text": ""}
    assert enrich_document(untitled, settings)["lsh_bands"] == lsh_bands(untitled)
