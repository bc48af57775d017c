"""The server-rendered pages: search, article (versions, raw page, hostile text), entities, feed."""

from __future__ import annotations

import html
import io
from datetime import datetime, timezone

import feedparser

import search_archive as sa
from indexer import store


def test_search_page_shows_hits_facets_chart_and_exports(client, archive):
    r = client.get("/", params={"q": "facebook"})
    assert r.status_code == 200
    page = r.text
    assert '<strong id="total">4</strong>' in page  # relevant only by default
    assert f'href="/articles/{archive["fb-pl"]}"' in page
    assert "<mark>Facebook</mark>" in page
    assert 'data-facet="entity"' in page and "JPMorgan Chase" in page
    assert 'id="chart-data"' in page and "The numbers as a table" in page
    assert 'href="/export.csv?q=facebook"' in page and 'href="/feed.atom?q=facebook"' in page
    assert "1 more article of this story" in page and "in 3 stories" in page
    assert "Rendered in" in page and r.headers["X-Render-Time"]


def test_facet_links_toggle_filters_in_the_url(client):
    page = client.get("/", params=[("q", "bank"), ("entity", "fb")]).text
    assert 'href="/?q=bank&amp;entity=fb&amp;entity=jpm"' in page     # add a second entity (AND)
    assert 'href="/?q=bank"' in page                                  # remove the chosen one


def test_malformed_query_shows_a_message_not_a_crash(client):
    r = client.get("/", params={"q": 'facebook "card'})
    assert r.status_code == 400
    assert 'id="query-error"' in r.text and "never closed" in r.text
    assert 'value="facebook &#34;card"' in r.text  # the query stays in the box, escaped


def test_hostile_article_is_shown_inert(client, archive):
    r = client.get(f"/articles/{archive['hostile']}")
    assert r.status_code == 200
    page = r.text
    for bad in ("<script>alert", "<img src=x", "<iframe", '<b onmouseover'):  # as text only, escaped
        assert bad not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    results = client.get("/", params={"q": "hostile"}).text
    assert "<script>alert" not in results and "&lt;script&gt;" in results
    assert "&lt;i&gt;Evil&lt;/i&gt;" in page


def test_article_page_metadata_entities_and_evidence(client, archive):
    page = client.get(f"/articles/{archive['fb-banks']}").text
    assert 'href="/entities/jpm"' in page and "JPMorgan Chase" in page
    assert '<mark class="evidence"' in page
    assert 'id="original-link"' in page and sa.BY_KEY["fb-banks"].url in page
    assert 'id="raw-missing"' in page                     # no WARC written for it
    assert f'href="/articles/{archive["fb-banks-wire"]}"' in page  # the other copy of its cluster


def test_changed_article_shows_versions_with_a_diff(client, es, settings, archive):
    a = sa.BY_KEY["amazon-wf"]
    changed = sa.TestArticle(**{**a.__dict__, "text": a.text + "\nUpdate: Wells Fargo declined to comment."})
    doc = sa.document_for(changed, settings)
    doc["crawled_at"] = datetime(2024, 7, 5, tzinfo=timezone.utc).isoformat()
    assert store.write_documents(es, settings, [doc], refresh="wait_for").updated == 1
    page = client.get(f"/articles/{archive['amazon-wf']}").text
    assert "version 1" in page and "→ 2" in page
    assert '<span class="add">+Update: Wells Fargo declined to comment.</span>' in page
    api = client.get(f"/api/articles/{archive['amazon-wf']}").json()
    assert api["version"] == 2 and [v["version"] for v in api["versions"]] == [1]


def test_raw_archived_page_is_served_sandboxed(client, es, settings, archive):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter
    raw_dir = settings.data_dir / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    path = raw_dir / "test-pages.warc.gz"
    html = b"<html><body><script>alert('raw')</script><p>Raw hostile page</p></body></html>"
    with open(path, "ab") as fh:
        offset = fh.tell()
        writer = WARCWriter(fh, gzip=True)
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(sa.BY_KEY["hostile"].url, "response",
                                                      payload=io.BytesIO(html), http_headers=headers))
        length = fh.tell() - offset
    es.update(index=settings.articles_alias, id=archive["hostile"], refresh="wait_for",
              doc={"raw_warc": "raw/test-pages.warc.gz", "raw_offset": offset, "raw_length": length})
    page = client.get(f"/articles/{archive['hostile']}").text
    assert f'href="/articles/{archive["hostile"]}/raw"' in page
    raw = client.get(f"/articles/{archive['hostile']}/raw")
    assert raw.status_code == 200 and raw.content == html
    assert raw.headers["content-security-policy"].startswith("sandbox")  # scripts cannot run
    assert client.get(f"/articles/{archive['fb-banks']}/raw").status_code == 404


def test_entity_pages(client, archive):
    listing = client.get("/entities").text
    assert 'href="/entities/fb"' in listing and 'data-typeahead="/api/entities"' in listing
    assert 'href="/entities/citi"' in client.get("/entities", params={"prefix": "cit"}).text
    page = client.get("/entities/jpm").text
    assert "JPMorgan Chase" in page and 'id="chart-data"' in page and "mentioning JPMorgan Chase" in page
    assert "mentions of JPMorgan Chase" in page.split('id="chart-legend"', 1)[1].split("</ul>", 1)[0]
    assert 'href="/entities/citi"' in page                       # co-mentioned
    assert f'href="/articles/{archive["fb-banks-wire"]}"' in page  # latest relevant
    assert client.get("/entities/nobody").status_code == 404


def test_sources_and_help_pages(client):
    assert "news-pl" in client.get("/sources").text
    assert "words starting with" in client.get("/help").text


def test_atom_feed_lists_newest_matches(client, archive):
    r = client.get("/feed.atom", params={"q": "citigroup", "relevant": "0"})
    assert r.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(r.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "DealWatch: citigroup"
    links = [e.link for e in feed.entries]
    assert links[:3] == [sa.BY_KEY["fb-banks-wire"].url, sa.BY_KEY["fb-banks"].url, sa.BY_KEY["formula"].url]
    assert len(feed.entries) == 4
    hostile = feedparser.parse(client.get("/feed.atom", params={"q": "hostile"}).content)
    assert not hostile.bozo and "<script>" in hostile.entries[0].title  # text, escaped in the XML


# --- the relevance bands on the pages ----------------------------------------------------------------------

def _hit_blocks(page: str) -> dict[str, str]:
    """The HTML of each hit on a results page, by article id."""
    blocks = page.split('<article class="hit">')[1:]
    return {b.split('href="/articles/', 1)[1].split('"', 1)[0]: b.split("</article>", 1)[0] for b in blocks}


def test_the_results_page_offers_the_possibly_relevant_for_review(client, archive):
    page = client.get("/").text
    # the facet: three bands with their counts, their score ranges in the tooltips
    facet = page.split('data-facet="relevance"', 1)[1].split("</section>", 1)[0]
    assert 'class="selected" data-value="relevant" title="topic score ≥ 0.50">✓ relevant to the story</a> ' \
           '<span class="count">7</span>' in facet
    assert 'href="/?relevance=possible" class="" data-value="possible" title="topic score from 0.30 to below ' \
           '0.50: the rules did not accept it, worth a look">possibly relevant — review</a> ' \
           '<span class="count">2' in facet
    assert '<span data-value="not" title="topic score below 0.30">not about the story</span> ' \
           '<span class="count">2</span>' in facet
    # the relevant ones are listed; the summary points to the borderline ones
    assert '<strong id="total">7</strong> relevant articles' in page
    assert 'href="/?relevance=possible" id="review-possible"' in page and "2 possibly relevant articles to review" in page
    assert '<option value="relevant" selected' in page


def test_possibly_relevant_hits_show_the_sentences_behind_their_score(client, archive):
    r = client.get("/", params={"relevance": "possible"})
    assert r.status_code == 200
    page = r.text
    assert '<strong id="total">2</strong> possibly relevant articles' in page
    assert '<option value="possible" selected' in page and 'id="review-possible"' not in page
    hits = _hit_blocks(page)
    assert set(hits) == {archive[k] for k in sa.POSSIBLE}
    apple = hits[archive["apple-savings"]]
    assert '<span class="badge possible"' in apple and "possibly relevant 0.42" in apple
    assert '<div class="hit-evidence">' in apple and f"<li>{sa.evidence_of(sa.BY_KEY['apple-savings'])}</li>" in apple
    # the facet keeps its counts; choosing the band again goes back to all articles
    assert 'href="/?relevance=all" class="selected" data-value="possible"' in page
    # the exports and the feed of the page are of the same band
    assert 'href="/export.csv?relevance=possible"' in page and 'href="/feed.atom?relevance=possible"' in page


def test_only_the_borderline_hits_carry_evidence_on_the_results_page(client, archive):
    hits = _hit_blocks(client.get("/", params={"relevance": "all", "source": "review-en"}).text)
    assert len(hits) == 3
    wallet = hits[archive["wallet-loyalty"]]
    assert "hit-evidence" in wallet and "possibly relevant 0.30" in wallet
    stats = hits[archive["card-stats"]]
    assert "hit-evidence" not in stats and "badge possible" not in stats and ">0.29</span>" in stats
    relevant = _hit_blocks(client.get("/", params={"q": "jpmorgan"}).text)
    assert all("hit-evidence" not in h and "badge relevant" in h for h in relevant.values())


def test_old_links_with_relevant_0_still_show_everything(client, archive):
    page = client.get("/", params={"relevant": "0"}).text
    assert f'<strong id="total">{len(sa.ARTICLES)}</strong> articles' in page
    assert '<option value="all" selected' in page
    assert 'href="/export.csv?relevance=all"' in page          # written in the canonical form
    feed = feedparser.parse(client.get("/feed.atom", params={"relevant": "0", "source": "review-en"}).content)
    assert len(feed.entries) == 3


def test_an_empty_band_says_where_else_to_look(client, archive):
    page = client.get("/", params={"q": "lumo"}).text
    assert '<strong id="total">0</strong>' in page and "among the relevant ones" in page
    assert 'id="review-possible"' in page and "1 possibly relevant article to review" in page
    page = client.get("/", params={"q": "citigroup", "relevance": "possible"}).text
    assert "No articles match among the possibly relevant ones" in page
    assert 'href="/?q=citigroup&amp;relevance=all"' in page


def test_the_article_page_names_the_band(client, archive):
    page = client.get(f"/articles/{archive['apple-savings']}").text
    assert "0.42 (possibly relevant — review)" in page
    assert "<h4>Why possibly relevant (below the threshold: review)</h4>" in page
    assert '<mark class="evidence"' in page
    assert "0.90 (relevant to the story)" in client.get(f"/articles/{archive['fb-banks']}").text


def test_an_unknown_band_is_explained_on_the_page(client):
    r = client.get("/", params={"relevance": "maybe"})
    assert r.status_code == 400 and "Unknown relevance &#39;maybe&#39;: use one of relevant, possible, all" in r.text


def chart_data(page: str) -> dict:
    import json
    return json.loads(html.unescape(page.split('id="chart-data">', 1)[1].split("</script>", 1)[0]))


def test_the_chart_draws_the_api_series_and_lists_them_as_a_table(client, archive):
    params = [("q", "citigroup"), ("compare", "amazon"), ("relevance", "all")]
    page = client.get("/", params=params).text
    api = client.get("/api/histogram", params=params).json()
    data = chart_data(page)
    assert data["series"] == api["series"] and data["buckets"] == api["buckets"] and data["unit"] == "week"
    assert [s["label"] for s in api["series"]] == ["citigroup", "amazon"]
    assert api["links"]["csv"] == "/histogram.csv?q=citigroup&compare=amazon&relevance=all"
    table = page.split('class="chart-table"', 1)[1].split("</table>", 1)[0]
    assert table.count('<th scope="row">') == len(api["buckets"])
    assert "week of 2023-11-20" in table                      # the first week, as a person reads it
    # the legend names each query with its total; a compared one can be taken off the chart
    legend = page.split('id="chart-legend"', 1)[1].split("</ul>", 1)[0]
    assert "citigroup" in legend and "amazon" in legend and 'href="/?q=citigroup&amp;relevance=all"' in legend
    # the form adds another query, keeping the search and the queries already compared
    form = page.split('id="compare-form"', 1)[1].split("</form>", 1)[0]
    assert '<input type="hidden" name="compare" value="amazon">' in form and 'name="compare" id="compare-q"' in form


def test_four_queries_fill_the_chart(client):
    params = [("q", "a")] + [("compare", q) for q in ("b", "c", "d")]
    page = client.get("/", params=params).text
    assert "4 queries are on the chart, the most it shows" in page and 'id="compare-q"' not in page
    r = client.get("/", params=params + [("compare", "e")])
    assert r.status_code == 400 and "At most 3 queries can be compared" in r.text


def test_the_chart_view_is_in_the_url(client):
    assert 'value="share" checked' in client.get("/", params={"chart": "share"}).text
    assert 'value="count" checked' in client.get("/").text


def test_the_entity_chart_spans_the_period_chosen(client, archive):
    page = client.get("/entities/fb", params={"from": "2024-05-01", "to": "2024-05-31"}).text
    data = chart_data(page)
    assert data["unit"] == "day" and data["buckets"][0]["start"].startswith("2024-05-01")
    assert 'href="/?entity=fb&amp;from=2024-05-01&amp;to=2024-05-31&amp;relevance=all"' in page
    assert 'href="/histogram.csv?entity=fb&amp;from=2024-05-01&amp;to=2024-05-31&amp;relevance=all"' in page


def test_paging_past_the_window_says_what_to_do(client):
    r = client.get("/", params={"q": "bank", "page": "600"})
    assert r.status_code == 400
    page = html.unescape(r.text)
    assert "cannot be paged through" in page and "narrow the query" in page
    assert 'id="export-all-csv" href="/export.csv?q=bank"' in page
    assert 'id="last-page" href="/?q=bank&page=500"' in page


def test_the_column_picker_lists_every_export_field_with_the_defaults_ticked(client):
    from indexer import export
    page = client.get("/", params={"q": "bank"}).text
    picker = page.split('id="columns-form"', 1)[1].split("</form>", 1)[0]
    assert [v.split('"', 1)[0] for v in picker.split('name="fields" value="')[1:]] == list(export.EXPORT_FIELDS)
    assert picker.count("checked") == len(export.COLUMNS)
    assert '<input type="hidden" name="q" value="bank">' in picker


def test_a_url_no_article_has_offers_its_site(client):
    page = client.get("/", params={"q": "https://www.nowhere.test/2018/08/story/", "relevance": "all"}).text
    assert 'id="no-such-url"' in page and "site:www.nowhere.test" in page


def test_result_counts_name_articles_and_stories(client):
    page = client.get("/", params={"q": "citigroup"}).text
    assert '<strong id="total">4</strong> relevant articles' in page and "in 3 stories" in page
    assert "Export all 4 articles" in page and "(20 stories a page)" in page
