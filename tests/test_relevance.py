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


# The wider story (issue 12): wallets that hold card data, accounts and cards with banks, regulators asking
# about payment data, data traded for ads or credit - and the neighbours that share their words.
SUB_STORIES = [
    # a platform's own payment service holding and using its users' card and transaction data
    ("en", "Samsung Wallet will now read the card payments made with the phone. Samsung said it would store the "
           "purchase records on its servers for a year."),
    ("pl", "Google rozbudowuje swój portfel. Google Wallet będzie zapisywać szczegóły transakcji i łączyć je z kontem "
           "użytkownika."),
    # accounts and cards opened together with banks
    ("en", "Uber will give drivers a debit card and an account run by a partner bank, so fares arrive minutes after "
           "a ride."),
    ("pl", "Allegro wprowadza dla kupujących własną kartę kredytową. Wyda ją bank, który oceni ich zdolność kredytową."),
    # a regulator ordering platforms to explain how they collect, use or share payment data
    ("en", "The watchdog sent questionnaires to Apple and Google asking what payment data their wallets gather "
           "and whether it is passed on."),
    ("pl", "UOKiK wysłał pytania do Apple'a i Google'a: urząd chce wiedzieć, jak firmy zbierają dane o płatnościach "
           "użytkowników."),
    # platforms and banks trading customer data for advertising or credit decisions
    ("en", "The lawsuit says the bank sold card transaction data to Meta so that advertisers could target shoppers."),
    ("pl", "Amazon przekaże bankowi historię zakupów klientów, a bank użyje jej do ustalania limitów na kartach."),
]

HARD_NEGATIVES = [
    # payment statistics name the wallets and the banks
    ("en", "Mobile wallets such as Apple Pay and Google Pay made up a third of in-store payments last year, a survey "
           "of 4,000 shoppers found. Banks say contactless card payments keep growing."),
    ("pl", "Z raportu wynika, że co trzecia transakcja kartą jest wykonywana telefonem, najczęściej przez Google Pay "
           "i Apple Pay. Banki wydały już 45 mln kart płatniczych."),
    # a bank's own card or app that merely works with a platform's wallet
    ("en", "JPMorgan Chase launched a travel credit card that works with Apple Pay from day one. Cardholders earn "
           "triple points on flights."),
    ("pl", "mBank odświeżył aplikację: klienci zobaczą analizę swoich wydatków i dodadzą kartę do Google Pay jednym "
           "kliknięciem."),
    # a fintech funding round
    ("pl", "Krakowski fintech pozyskał 20 mln zł w rundzie finansowania od funduszu venture capital. Spółka analizuje "
           "transakcje kartowe klientów banków, a wśród inwestorów jest były menedżer Google'a."),
    # an antitrust case about a wallet
    ("en", "The European Commission ended its antitrust probe after Apple agreed to open the iPhone's payment chip "
           "to rival wallets. Banks had complained that Apple Pay was the only wallet with access."),
    # a privacy fine with no money in it
    ("pl", "UODO nałożył na Metę karę za przetwarzanie danych użytkowników Facebooka i zażądał wyjaśnień."),
    # card fraud through a platform
    ("pl", "Oszuści reklamują fałszywe sklepy na Instagramie i zbierają dane kart płatniczych ofiar. Banki blokują "
           "podejrzane transakcje."),
    # a bank advertising on a platform
    ("en", "Bank of America signed a deal with YouTube for an advertising campaign that will promote its credit cards "
           "with sponsored videos."),
]


@pytest.mark.parametrize("lang, text", SUB_STORIES)
def test_the_wider_story_is_relevant_with_evidence(lang, text, cfg):
    a = analyze_text("", text, lang, cfg)
    assert a.relevant, (a.score, a.concepts)
    assert a.evidence and all(sentence in " ".join(text.split()) for sentence in a.evidence)


@pytest.mark.parametrize("lang, text", HARD_NEGATIVES)
def test_neighbours_of_the_wider_story_stay_off(lang, text, cfg):
    a = analyze_text("", text, lang, cfg)
    assert not a.relevant and a.score < 0.5, (a.score, a.concepts)


def test_a_wallet_named_as_a_way_to_pay_is_not_the_platform_acting(cfg):
    rail = analyze_text("", "PKO Bank Polski launched a credit card that works with Apple Pay.", "en", cfg)
    acting = analyze_text("", "Apple launched a credit card together with Goldman Sachs.", "en", cfg)
    assert {"platform", "finance", "product"} <= set(rail.concepts) and "actor" not in rail.concepts
    assert "actor" in acting.concepts and acting.relevant and not rail.relevant


def test_words_near_each_other_make_data_that_each_alone_does_not(cfg):
    # "purchases" is an activity; "information about the purchases" is data about it
    alone = analyze_text("", "Facebook asked the banks for a partnership; purchases rose.", "en", cfg)
    near = analyze_text("", "Facebook asked the banks for information about the purchases of their clients.", "en", cfg)
    assert "data" not in alone.concepts and not alone.relevant
    assert "data" in near.concepts and near.relevant


def test_an_article_that_names_the_platform_only_late_is_about_something_else(cfg):
    passage = "Facebook asked Wells Fargo for the card transactions of its customers."
    filler = ["The bank reported its results on Monday.", "Its shares rose in early trading.",
              "Mortgage lending was flat.", "Costs fell for a third quarter."]
    early = analyze_text("", " ".join([passage] + filler), "en", cfg).score
    late = analyze_text("", " ".join(filler + [passage]), "en", cfg).score
    assert late < early
    assert late > 0   # still a continuous score: such an article can be reviewed below the threshold


def test_the_company_stands_for_the_platform_only_where_platforms_are_the_most_named(cfg):
    tail = " Fees are zero for now. Transfers arrive within seconds. The company will store the transaction history of every user."
    platform = analyze_text("", "Meta launched payments in WhatsApp on Monday. Instagram gets them next." + tail, "en", cfg)
    bank = analyze_text("", "HSBC launched a new app on Monday. HSBC customers in Britain get it first. "
                            "Its cloud runs on Google." + tail, "en", cfg)
    assert platform.relevant and "actor" in platform.concepts
    assert platform.evidence[-1].startswith("The company will store")
    assert not bank.relevant


def test_a_platform_leader_acts_for_the_platform(cfg):
    a = analyze_text("", "Mark Zuckerberg asked Citigroup to share the card transactions of its customers.", "en", cfg)
    assert a.relevant and "actor" in a.concepts
