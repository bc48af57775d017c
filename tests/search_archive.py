"""A small archive of hand-written articles for the search, API, export and browser tests.

Articles go through the real door (``indexer.documents.enriched_document``, then the store) into the test
session's index on the real node. Their enrichment (entities, relevance, cluster) is set here
explicitly so the tests state exactly what they expect; lemma fields come from
``indexer.enrich.lemmas`` when ``prepare`` did not already add them. As enrichment does, every
article with a topic score above zero keeps evidence (here: the first line of its text).

Relevance bands under the default settings (threshold 0.5, possibly relevant from 0.3): the
articles of the source ``review-en`` sit around the lower edge of the "possibly relevant" band —
:data:`POSSIBLE` inside it (one exactly at 0.3), ``card-stats`` just below it (0.29).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timezone

from indexer import store
from indexer.documents import enriched_document
from indexer.schema import Article


@dataclass
class TestArticle:
    key: str
    title: str
    text: str
    source: str
    lang: str
    published: datetime | None
    entities: list[tuple[str, str, str]] = field(default_factory=list)   # (id, name, type)
    relevant: bool = True
    score: float = 0.9
    cluster: str = ""
    authors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.source}.test/{self.key}"


def _d(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 9, 30, tzinfo=timezone.utc)


FB = ("fb", "Facebook", "platform")
JPM = ("jpm", "JPMorgan Chase", "bank")
CITI = ("citi", "Citigroup", "bank")
GOOGLE = ("google", "Google", "platform")
AMAZON = ("amazon", "Amazon", "platform")
WF = ("wf", "Wells Fargo", "bank")
APPLE = ("apple", "Apple", "platform")
GOLDMAN = ("goldman", "Goldman Sachs", "bank")
MASTERCARD = ("mastercard", "Mastercard", "card_network")

ARTICLES = [
    TestArticle("fb-banks", "Facebook asked big US banks for customers' card data",
                "Facebook asked JPMorgan Chase and Citigroup for detailed financial information about their "
                "customers, including card transactions and checking-account balances.\n"
                "The banks were cautious about sharing customer data.",
                "news-en", "en", _d(2024, 5, 1), [FB, JPM, CITI], cluster="c-fb", authors=["Jane Smith"]),
    TestArticle("fb-banks-wire", "Facebook wants bank data, report says",
                "Facebook asked JPMorgan Chase and Citigroup for detailed financial information about their "
                "customers, including card transactions, a report says.",
                "wire-en", "en", _d(2024, 5, 2), [FB, JPM, CITI], cluster="c-fb", authors=["Wire Desk"]),
    TestArticle("fb-pl", "Facebook chce danych klientów banków",
                "Serwis Facebooka poprosił największe banki o dane klientów, w tym transakcje kartowe.\n"
                "Banki nie chcą udostępniać danych klienta.",
                "news-pl", "pl", _d(2024, 6, 10), [FB], cluster="c-pl", authors=["Anna Nowak"]),
    TestArticle("google-office", "Google opens a new office in Warsaw",
                "Google opened a new office in Warsaw with two hundred engineers. No banks were involved.",
                "news-en", "en", _d(2024, 3, 1), [GOOGLE], relevant=False, score=0.1, cluster="c-google"),
    TestArticle("amazon-wf", "Amazon talks payments with Wells Fargo",
                "Amazon met Wells Fargo to discuss card payments and the data of shoppers.",
                "news-en", "en", _d(2023, 11, 20), [AMAZON, WF], cluster="c-amazon", authors=["John Doe"]),
    TestArticle("hostile", '<script>alert("title")</script>Hostile page about Facebook bank data',
                '<img src=x onerror=alert(1)> <script>alert(2)</script> <b onmouseover="alert(3)">Facebook</b> '
                "collected bank data. <iframe src=javascript:alert(4)></iframe>",
                "trouble", "en", _d(2024, 4, 15), [FB], cluster="c-hostile", authors=["<i>Evil</i>"]),
    TestArticle("formula", "=HYPERLINK(\"http://evil.test\",\"click\") Citigroup formula",
                "-2+3 Citigroup card data leaks into a spreadsheet cell.",
                "news-en", "en", _d(2024, 2, 2), [CITI], cluster="c-formula", authors=["@attacker"]),
    TestArticle("undated", "Citigroup undated note", "Citigroup customers and their data, undated.",
                "news-en", "en", None, [CITI], cluster="c-undated"),
    # borderline: scored below the threshold, worth a person's look
    TestArticle("apple-savings", "Apple weighs a savings account for its card holders",
                "Apple is weighing a savings account for holders of its credit card, run together with Goldman "
                "Sachs, people familiar with the plan said.\n"
                "The company did not say what customer information its partner would receive.",
                "review-en", "en", _d(2024, 8, 12), [APPLE, GOLDMAN], relevant=False, score=0.42,
                cluster="c-apple", authors=["Lee Park"]),
    TestArticle("wallet-loyalty", "A shopping app adds a wallet for loyalty and payment cards",
                "The shopping app Lumo added a wallet that keeps loyalty cards and, from next month, Mastercard "
                "payment cards.\nIts privacy notice says purchase history may be used to personalise offers.",
                "review-en", "en", _d(2024, 8, 20), [MASTERCARD], relevant=False, score=0.3, cluster="c-wallet"),
    TestArticle("card-stats", "Card payments grew again in the second quarter",
                "Card payments in shops grew nine percent in the second quarter, the payments council said.\n"
                "Contactless payments made up most of the growth.",
                "review-en", "en", _d(2024, 8, 25), [], relevant=False, score=0.29, cluster="c-stats"),
]
POSSIBLE = {"apple-savings", "wallet-loyalty"}      # 0.3 <= score < 0.5

BY_KEY = {a.key: a for a in ARTICLES}


def evidence_of(a: TestArticle) -> str:
    """The evidence sentence the article is stored with."""
    return a.text.split("\n")[0]


def band_of(a: TestArticle) -> str:
    """The article's relevance band under the default settings."""
    return "relevant" if a.relevant else "possible" if a.key in POSSIBLE else "not"


def document_for(a: TestArticle, settings) -> dict:
    article = Article(url=a.url, canonical_url=a.url, source=a.source, title=a.title, text=a.text,
                      domain=f"{a.source}.test", lang=a.lang, published_at=a.published, authors=list(a.authors),
                      crawled_at=datetime(2024, 7, 1, tzinfo=timezone.utc))
    doc = enriched_document(article, settings)
    if "text_lemmas" not in doc:
        from indexer.enrich.lemmas import lemma_string
        doc["title_lemmas"] = lemma_string(a.title, a.lang)
        doc["text_lemmas"] = lemma_string(a.text, a.lang)
    doc.update({
        "entity_ids": [e[0] for e in a.entities], "entity_names": [e[1] for e in a.entities],
        "entity_types": sorted({e[2] for e in a.entities}),
        "entities": [{"id": e[0], "name": e[1], "type": e[2], "count": 1} for e in a.entities],
        "relevant": a.relevant, "relevance_score": a.score, "cluster_id": a.cluster,
        "relevance_evidence": [evidence_of(a)] if a.score > 0 else [],
    })
    return doc


_prepared: list[dict] = []


def build(es, settings) -> dict[str, str]:
    """Fill the (empty) test index with :data:`ARTICLES`; returns article key -> document id."""
    store.drop_all(es, settings)
    store.ensure_index(es, settings)
    if not _prepared:  # enrichment is CPU work: once per test session
        _prepared.extend(document_for(a, settings) for a in ARTICLES)
    docs = [copy.deepcopy(d) for d in _prepared]
    ids = {a.key: d["id"] for a, d in zip(ARTICLES, docs)}
    # Archive.write would re-cluster: write through the store so the clusters stay as declared
    result = store.write_documents(es, settings, docs, refresh="wait_for")
    assert result.failed == 0, result.errors
    return ids


def expected(pred) -> set[str]:
    return {a.key for a in ARTICLES if pred(a)}
