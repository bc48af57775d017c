"""Saving a search from the results page in a real browser (Playwright drives Debian's Chromium against
the real app and node, as tests/test_browser.py does) and seeing it listed on /alerts.
"""

from __future__ import annotations

import httpx
import pytest

from test_browser import SHOTS, base_url, browser  # noqa: F401  (the app on a real port, Chromium)

pytestmark = pytest.mark.browser


@pytest.fixture()
def page(browser):
    """A fresh page of test_browser.py's Chromium that accepts confirmations (deleting a saved search asks)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.on("dialog", lambda d: d.accept())
    yield pg
    context.close()


def test_save_a_search_from_the_results_page_and_see_it_listed(page, base_url):
    page.goto(base_url + "/")
    page.fill("#q", "citigroup")
    page.press("#q", "Enter")
    page.wait_for_selector("#total")
    page.click("#save-search")
    page.wait_for_selector("#alert-form")
    assert page.input_value("#alert-name") == "citigroup"
    assert page.input_value("#alert-query") == "q=citigroup"
    page.fill("#alert-name", "Citigroup — przegląd prasy")
    page.check('input[name="kind"][value="daily"]')
    page.fill("#alert-time", "07:15")
    page.fill("#alert-tz", "Europe/Warsaw")
    page.fill("#alert-emails", "Zofia Wójcik <zofia@example.org>")
    page.click("#alert-save")
    page.wait_for_url("**/alerts?saved=*")
    row = page.locator("#alerts tr", has_text="Citigroup — przegląd prasy")
    assert row.count() == 1
    text = row.inner_text()
    assert "every day at 07:15 (Europe/Warsaw)" in text and "Zofia Wójcik <zofia@example.org>" in text
    assert "never" in text and "active" in text
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "alerts.png"), full_page=True)
    # the search link of the listing opens the same results
    page.click("#alerts tr:has-text('Citigroup — przegląd prasy') td:nth-child(2) a")
    page.wait_for_selector("#total")
    api = httpx.get(base_url + "/api/search", params={"q": "citigroup"}).json()
    assert page.inner_text("#total") == str(api["total"])
    # pause, then delete from the listing
    page.goto(base_url + "/alerts")
    page.click("#alerts tr:has-text('Citigroup — przegląd prasy') button:has-text('pause')")
    page.wait_for_selector("#alerts tr:has-text('Citigroup — przegląd prasy') .alert-status:has-text('paused')")
    page.click("#alerts tr:has-text('Citigroup — przegląd prasy') button:has-text('delete')")
    page.wait_for_selector("#no-alerts")
