"""Topic relevance: a platform seeking, buying or sharing bank/card customers' data - with the sentences that show it."""

import pytest

from dealwatch.settings import load_settings
from indexer.enrich import analyze_text, enrich_document
from indexer.enrich.language import detect_language


@pytest.fixture(scope="module")
def cfg():
    return load_settings()


ON_TOPIC = [
    ("en", "Amazon has held talks with several lenders about offering a checking account to its shoppers. "
           "The retailer wants to learn more about customers' spending and their bank balances."),
    ("en", "Regulators said Facebook had approached Citigroup and Wells Fargo. The social network asked the banks "
           "to share card transactions of their clients in exchange for a chat feature."),
    ("pl", "Google zapłacił Mastercardowi za dostęp do danych o transakcjach kartowych klientów. "
           "Dzięki temu gigant sprawdza, czy reklamy przekładają się na zakupy w sklepach."),
    ("pl", "Facebook prowadzi rozmowy z bankami. Serwis chciałby uzyskać dostęp do danych klientów, w tym do sald "
           "rachunków i historii transakcji."),
    ("en", "The CFPB ordered Google, Apple, Amazon and Facebook to turn over information about their payment "
           "systems and how they use consumers' payment data."),
    ("en", "Google struck a secret deal with Mastercard to track whether online ads lead to sales in physical stores."),
    ("pl", "Facebook zaproponował bankom wymianę danych: serwis chce wiedzieć, ile pieniędzy mają na kontach jego "
           "użytkownicy."),
    ("pl", "Apple wprowadza kartę kredytową we współpracy z Goldmanem Sachsem; bank nie będzie sprzedawał danych klientów."),
]

OFF_TOPIC = [
    ("en", "Cambridge Analytica harvested the data of 87 million Facebook users through a personality quiz. "
           "Mark Zuckerberg apologised before Congress."),
    ("en", "JPMorgan Chase reported record quarterly profit as net interest income rose. Wells Fargo and Citigroup "
           "also beat analysts' estimates."),
    ("pl", "Awaria systemu w PKO BP sprawiła, że klienci przez kilka godzin nie mogli się zalogować do bankowości."),
    ("en", "Facebook unveiled its Libra cryptocurrency. The stablecoin will be run by an association including Visa "
           "and Mastercard, and critics fear the digital currency could undermine central banks. Regulators want the "
           "cryptocurrency project halted."),
    ("en", "Apple launched a new iPhone with a faster chip and a better camera."),
    ("en", "Apple shares rose 3% after the iPhone maker reported strong quarterly sales; analysts at Goldman Sachs raised "
           "their target."),
    ("pl", "UODO nałożył na bank karę za wyciek danych osobowych klientów."),
    ("en", "Google's new app lets users send money from Gmail straight to a friend's bank account, with no fees."),
    # a platform, a bank and customer data side by side, but nobody seeks, buys or shares anything
    ("en", "JPMorgan Chase said customer account balances grew in the quarter. Its shares outperformed Apple and Amazon."),
    # incidents: outages, breaches and hacks share the vocabulary (the social network is where customers complained)
    ("en", "Customers of Citigroup could not see their account balances for hours after a system outage. Many vented on "
           "Facebook and X. The bank said card transactions were also hit by the outage."),
    ("en", "Hackers obtained card data of HSBC customers from a misconfigured Microsoft cloud server. The breach was "
           "found in March, and the bank says the hackers were caught."),
    ("pl", "Awaria w Pekao: klienci nie widzieli salda i historii transakcji. Wielu skarżyło się na Facebooku. Bank "
           "przeprasza za awarię i utrudnienia."),
    # "Pay" in the name of a wallet is not the verb: usage figures of mobile wallets are not a data deal
    ("pl", "Z Apple Pay i Google Pay korzysta coraz więcej klientów Santandera, a liczba transakcji rośnie."),
]

# what customers hold and how they spend is customer data too; French elided articles are words of their own
MORE_ON_TOPIC = [
    ("en", "Amazon is in talks with JPMorgan Chase about what the bank may tell it on how cardholders spend outside "
           "its store."),
    ("pl", "Google prowadzi rozmowy z Pekao: gigant chce wiedzieć, na co klienci wydają pieniądze."),
    ("pl", "Apple chce współpracować z bankiem, który przechowywałby depozyty jej użytkowników."),
    ("fr", "Google et la banque ont conclu l'accord: les données bancaires des clients seront transmises chaque mois."),
]


@pytest.mark.parametrize("lang, text", ON_TOPIC)
def test_platform_bank_data_stories_are_relevant_with_evidence(lang, text, cfg):
    a = analyze_text("", text, lang, cfg)
    assert a.relevant and 0.5 <= a.score <= 1.0
    assert a.evidence and all(sentence in " ".join(text.split()) for sentence in a.evidence)


@pytest.mark.parametrize("lang, text", MORE_ON_TOPIC)
def test_holdings_spending_and_elided_words_count(lang, text, cfg):
    a = analyze_text("", text, lang, cfg)
    assert a.relevant and {"platform", "finance", "data", "deal"} <= set(a.concepts)


def test_terms_inside_a_name_do_not_count_but_a_term_naming_the_whole_name_does(cfg):
    # "Banków" in Związek Banków Polskich is no bank, "Pay" in Google Pay no payment verb; "Google Pay" is a wallet
    association = analyze_text("", "Związek Banków Polskich chwali Google Pay.", "pl", cfg)
    assert association.score == 0.0 and "finance" not in association.concepts
    bank = analyze_text("", "PKO Bank Polski chwali Google Pay.", "pl", cfg)
    assert {"platform", "finance", "payments"} <= set(bank.concepts) and "transaction" not in bank.concepts


def test_an_incident_story_is_damped_even_with_a_deal_word(cfg):
    calm = ("Facebook asked Wells Fargo for customers' card transactions. The bank declined. "
            "The social network said talks with other banks continue.")
    stormy = calm + " Meanwhile an outage hit Wells Fargo's app. The outage lasted hours and hackers were blamed."
    assert analyze_text("", stormy, "en", cfg).score < analyze_text("", calm, "en", cfg).score


@pytest.mark.parametrize("lang, text", OFF_TOPIC)
def test_stories_sharing_the_vocabulary_are_not_relevant(lang, text, cfg):
    a = analyze_text("", text, lang, cfg)
    assert not a.relevant and 0.0 <= a.score < 0.5


def test_the_threshold_comes_from_settings(cfg):
    text = "Facebook asked Citigroup for a partnership."
    score = analyze_text("", text, "en", cfg).score
    assert 0 < score < 1
    assert analyze_text("", text, "en", cfg.replace(relevance_threshold=score)).relevant
    assert not analyze_text("", text, "en", cfg.replace(relevance_threshold=score + 0.01)).relevant


def test_a_title_carrying_the_topic_raises_the_score(cfg):
    body = "Facebook asked Citigroup for a partnership. Talks continue."
    plain = analyze_text("", body, "en", cfg).score
    titled = analyze_text("Facebook wants bank customers' card data", body, "en", cfg).score
    assert titled > plain


def test_language_is_detected_when_the_document_has_none(cfg):
    assert detect_language("Facebook poprosił największe banki o dane klientów i historię ich transakcji.") == "pl"
    assert detect_language("Facebook asked the largest banks for customer data and transaction history.") == "en"
    assert detect_language("ok") is None
    doc = {"id": "x", "title": "", "text": "Bank nie potwierdził, czy przekazał Facebookowi dane swoich klientów."}
    assert enrich_document(doc, cfg)["lang"] == "pl"
    assert "lang" not in enrich_document({**doc, "lang": "en"}, cfg)


def test_enrich_document_returns_only_schema_enrichment_fields(cfg):
    from indexer.schema import FIELD_NAMES
    doc = {"id": "x", "title": "Facebook asks banks for data", "text": ON_TOPIC[1][1], "lang": "en"}
    out = enrich_document(doc, cfg)
    assert set(out) <= set(FIELD_NAMES)
    assert {"title_lemmas", "text_lemmas", "entity_ids", "entity_names", "entity_types", "entities", "other_names",
            "relevance_score", "relevant", "relevance_evidence", "lsh_bands", "enriched_at"} <= set(out)
    assert out["entity_names"][:1] == ["Meta Platforms"]
    assert {"bank", "platform"} <= set(out["entity_types"])
    assert out["entities"][0].keys() == {"id", "name", "type", "count", "in_title", "in_lead"}
    assert out["enriched_at"].endswith("+00:00")
    assert len(out["title_lemmas"].split()) == len(doc["title"].split())
