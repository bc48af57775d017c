"""Entity extraction: watchlist names in English and Polish, however they are written - and not when they are not names."""

import pytest

from dealwatch.settings import load_settings
from indexer.enrich import analyze_text


@pytest.fixture(scope="module")
def cfg():
    return load_settings()


def names(text: str, cfg, lang: str | None = None, title: str = "") -> set[str]:
    return {h.entity.name for h in analyze_text(title, text, lang, cfg).entities}


def counts(text: str, cfg, lang: str | None = None) -> dict[str, int]:
    return {h.entity.name: h.count for h in analyze_text("", text, lang, cfg).entities}


@pytest.mark.parametrize("sentence, expected", [
    ("Dziennikarze dotarli do Facebooka w tej sprawie.", "Meta Platforms"),
    ("Bank przekazał dane Facebookowi, twierdzą źródła.", "Meta Platforms"),
    ("Regulator zajmie się Facebookiem jeszcze w tym roku.", "Meta Platforms"),
    ("Rzecznik Zuckerberga odmówił komentarza.", "Mark Zuckerberg"),
    ("Umowę z Citigroupem podpisano w marcu.", "Citigroup"),
    ("Akcje Citigroupu spadły o dwa procent.", "Citigroup"),
    ("Prezes Citigroupie nie pracuje.", "Citigroup"),
    ("Propozycję wysłano też bankom Wells Fargo i U.S. Bancorp.", "Wells Fargo"),
    ("Kartę wyda bank Goldmana Sachsa.", "Goldman Sachs"),
    ("Rozmowy z Goldmanem Sachsem trwały miesiącami.", "Goldman Sachs"),
    ("Klienci mBanku dostaną nową aplikację.", "mBank"),
    ("W Santanderze zmieniono regulamin kart.", "Santander"),
    ("Komisji Europejskiej nie podoba się ta umowa.", "European Commission"),
    ("Kontrolę w banku prowadzi Komisja Nadzoru Finansowego.", "KNF"),
    ("Sprawą zajął się Urząd Ochrony Danych Osobowych.", "UODO"),
    ("Amerykańska Federalna Komisja Handlu nałożyła karę.", "FTC"),
    ("Płatności kartą Visą są bezpłatne dla klientów banku.", "Visa"),
    ("Porozumienie z Mastercardem dotyczy danych o transakcjach.", "Mastercard"),
    ("Google’a i Apple’a pytano o płatności.", "Alphabet"),
    ("Google’a i Apple’a pytano o płatności.", "Apple"),
    ("Prezes Trumpa nie obchodziły te dane.", "Donald Trump"),
    ("Spółka Meta ogłosiła wyniki, a rzecznik Mety odmówił komentarza w sprawie Instagrama.", "Meta Platforms"),
    ("Klienci Banku Pekao i Narodowego Banku Polskiego.", "Bank Pekao"),
    ("Klienci PKO BP mogą już płacić telefonem.", "PKO Bank Polski"),
])
def test_polish_inflected_forms_are_found(sentence, expected, cfg):
    assert expected in names(sentence, cfg, "pl")


@pytest.mark.parametrize("sentence, expected", [
    ("FB shares fell after the report.", "Meta Platforms"),
    ("JPM declined to comment on the talks.", "JPMorgan Chase"),
    ("BofA and Wells Fargo said they had no such programme.", "Bank of America"),
    ("Amex cardholders were not affected.", "American Express"),
    ("The CFPB ordered six companies to hand over information.", "CFPB"),
    ("KNF wszczęła postępowanie.", "KNF"),
    ("Decyzję wydał prezes UODO.", "UODO"),
    ("HSBC said it was reviewing the proposal.", "HSBC"),
    ("Klienci ING Banku Śląskiego skarżą się na awarię.", "ING"),
    ("The request went to J.P. Morgan and others.", "JPMorgan Chase"),
])
def test_abbreviations_and_short_forms_are_found(sentence, expected, cfg):
    assert expected in names(sentence, cfg)


@pytest.mark.parametrize("sentence, expected", [
    ("Citygroup was also approached, according to the report.", "Citigroup"),
    ("Facebook asked Citygroupu for data, pisze dziennik.", "Citigroup"),
    ("Mark Zuckerburg testified before Congress.", "Mark Zuckerberg"),
    ("Users of Facebok complained about the change.", "Meta Platforms"),
    ("The Masterdard deal was never announced.", "Mastercard"),
    ("Koncepcja Marka Zukcerberga jest krytykowana.", "Mark Zuckerberg"),
])
def test_common_misspellings_are_found(sentence, expected, cfg):
    assert expected in names(sentence, cfg, "en")


@pytest.mark.parametrize("sentence, expected", [
    ("Facebook's request reached several banks.", "Meta Platforms"),
    ("Citigroup's spokesperson declined to comment.", "Citigroup"),
    ("Wells Fargo's customers were not asked.", "Wells Fargo"),
    ("Zuckerberg’s testimony lasted five hours.", "Mark Zuckerberg"),
])
def test_possessives_are_found(sentence, expected, cfg):
    assert expected in names(sentence, cfg, "en")


@pytest.mark.parametrize("sentence, absent", [
    ("Police had to chase the suspect through the park.", "JPMorgan Chase"),
    ("Chase your dreams and never give up, the coach said.", "JPMorgan Chase"),
    ("She baked an apple pie with cinnamon.", "Apple"),
    ("Apple pie is best served warm with vanilla ice cream.", "Apple"),
    ("Tourists love the Big Apple in December.", "Apple"),
    ("Banking and investing are taught in the morning session.", "ING"),
    ("The ing form of a verb is called a gerund.", "ING"),
    ("You need a visa to travel to the United States.", "Visa"),
    ("The Visa application was rejected by the embassy.", "Visa"),
    ("A meta-analysis of forty studies found no effect.", "Meta Platforms"),
    ("Zawodnik minął metę jako pierwszy, a na mecie czekali kibice.", "Meta Platforms"),
    ("The X-ray showed a broken rib.", "X (Twitter)"),
    ("Deforestation in the Amazon rainforest accelerated.", "Amazon"),
    ("Big U.S. banks reported higher profits this quarter.", "U.S. Bancorp"),
    ("He plugged a USB stick into the laptop.", "U.S. Bancorp"),
    ("The amazon parrot is native to South America.", "Amazon"),
    ("Brazil is home to 60% of the Amazon, the largest tropical forest.", "Amazon"),
    ("Goldman Sachs hired Emma Goldman's biographer.", "Mark Zuckerberg"),
    ("The trump card decided the game.", "Donald Trump"),
    ("Donald Trump Jr. spoke at the rally.", "Mark Zuckerberg"),
    ("Fifth Third Bancorp raised its dividend.", "U.S. Bancorp"),
    ("The French shipping group CMA CGM ordered new vessels.", "UK CMA"),
    ("John Goodman plays a ruthless scientist.", "Goldman Sachs"),
    ("Biegacz dotarł do mety jako pierwszy.", "Meta Platforms"),
    ("The 50-day MA crossed the 200-day MA.", "Mastercard"),
    ("The Fed Cup final was played in Perth.", "Federal Reserve"),
    ("Be wise with your money, the adviser said. Wise words.", "Wise"),
    # the travel document, even with a payment word nearby
    ("Visa applicants can pay the consular fee by card. Visa holders from Canada need no new documents.", "Visa"),
    ("Visa-free travel ends next year; tourists will pay a fee by card online.", "Visa"),
])
def test_words_that_only_look_like_names_do_not_count(sentence, absent, cfg):
    assert absent not in names(sentence, cfg, "en" if sentence.isascii() else "pl")


def test_ambiguous_names_count_in_their_context(cfg):
    assert "Visa" in names("Visa and Mastercard process most card payments in Europe.", cfg, "en")
    assert "Visa" in names("Visa cut interchange rates for small merchants.", cfg, "en")
    assert "JPMorgan Chase" in names("Customers of Chase can now link their credit cards to the app.", cfg, "en")
    assert "Meta Platforms" in names("Meta, the owner of Instagram and WhatsApp, declined to comment.", cfg, "en")
    assert "X (Twitter)" in names("Elon Musk said X would launch payments this year.", cfg, "en")
    assert "Amazon" in names("Joining the Amazon family will help the online retailer grow.", cfg, "en")
    # a product named after its owner counts for both
    assert {"Meta Platforms", "Messenger"} <= names("Users of Facebook Messenger can send money.", cfg, "en")


def test_counts_title_and_lead(cfg):
    a = analyze_text("Facebook wants your bank data",
                     "Facebook asked banks for data. Nobody else did. Much later, Citigroup and Facebook talked.",
                     "en", cfg)
    hits = {h.entity.name: h for h in a.entities}
    fb, citi = hits["Meta Platforms"], hits["Citigroup"]
    assert (fb.count, fb.in_title, fb.in_lead) == (3, True, True)
    assert (citi.count, citi.in_title, citi.in_lead) == (1, False, False)


def test_other_proper_names_are_collected_without_watchlist_names_or_sentence_starts(cfg):
    a = analyze_text("", "The plan was described by Sheryl Sandberg and by Jan Kowalski of Bank Millennium. "
                         "Later Tom Smith, an analyst at Morgan Stanley, said The Information was right. "
                         "Jan Kowalski did not reply.", "en", cfg)
    assert "Jan Kowalski" in a.other_names
    assert "Tom Smith" in a.other_names
    assert a.other_names[0] == "Jan Kowalski"          # mentioned twice
    assert not any("Sandberg" in n or "Morgan Stanley" in n for n in a.other_names)
    assert "Later Tom Smith" not in a.other_names
    headline = analyze_text("Court Rejects Epic Games Challenge Against App Store Policies",
                            "The judge, Yvonne Rogers, said CEO Tim Sweeney had no case.", "en", cfg)
    assert "Yvonne Rogers" in headline.other_names and "Tim Sweeney" in headline.other_names
    assert not any("Rejects" in n or "CEO" in n for n in headline.other_names)


def test_french_and_italian_elided_articles_do_not_hide_names(cfg):
    assert "Amazon" in names("Le projet d'Amazon a été critiqué par les banques.", cfg, "fr")
    assert "Meta Platforms" in names("L'offre de Facebook n'a pas convaincu la banque.", cfg, "fr")
    assert "Apple" in names("Secondo l'analista, il piano dell'Apple per i pagamenti è pronto.", cfg, "it")
    # a name that starts with an elided article keeps it; the article before a name is not part of it
    others = analyze_text("", "Le groupe L'Oréal Paris a reçu Jean Dupont, le patron de l'Union Européenne.", "fr",
                          cfg).other_names
    assert "L'Oréal Paris" in others and "Union Européenne" in others
    # an Irish name or an English contraction is not an elision
    assert "Amazon" not in names("O'Amazonia is a made-up word, isn't it?", cfg, "en")
