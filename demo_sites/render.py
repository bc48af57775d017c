"""The demo sites' documents: HTML pages, RSS and Atom feeds, sitemaps and robots.txt of one site.

Role in the data flow: what a crawler fetches. Each function is a pure function of a
:class:`~demo_sites.content.Site` and an edition that returns the document's text; which
path answers with which document is :mod:`demo_sites.routes`' job. The pages carry the
boilerplate of real news sites (cookie banner, navigation, related links, newsletter box,
footer) and every piece of metadata a crawler reads (``<html lang>``, ``rel=canonical``,
Open Graph, ``article:published_time``, ``<time datetime>``).
"""

from __future__ import annotations

import html
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape as xml_escape

from dealwatch.dates import UTC, to_iso
from demo_sites.content import Article, Site

SECTION_PAGE_SIZE = 10
HOME_PAGE_SIZE = 12

# The content type each kind of document is served with.
HTML = "text/html; charset=utf-8"
XML = "application/xml; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
TEXT = "text/plain; charset=utf-8"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def w3c_datetime(dt: datetime) -> str:
    """ISO 8601 in UTC with the ``Z`` designator, as publishers write it in pages, feeds and sitemaps."""
    return to_iso(dt).replace("+00:00", "Z")


COOKIE_TEXT = {
    "en": "We use cookies to remember your preferences and measure readership. By continuing you accept our cookie policy.",
    "pl": "Używamy plików cookie, aby zapamiętać Twoje ustawienia i mierzyć czytelnictwo. Korzystając z serwisu, akceptujesz politykę cookies.",
}
NEWSLETTER_TEXT = {
    "en": ("Morning briefing", "The day's business and technology news in your inbox before 7 a.m.", "Sign up"),
    "pl": ("Poranny przegląd", "Najważniejsze wiadomości gospodarcze w Twojej skrzynce przed siódmą.", "Zapisz się"),
}
LABELS = {
    "en": {"home": "Home", "related": "Related articles", "latest": "Latest news", "by": "By",
           "more": "More in", "next": "Older articles", "prev": "Newer articles", "about": "About us",
           "contact": "Contact", "rights": "All rights reserved.", "preview": "Subscriber preview",
           "updated": "Updated", "page": "Page", "notfound": "Page not found"},
    "pl": {"home": "Strona główna", "related": "Czytaj także", "latest": "Najnowsze", "by": "Autor:",
           "more": "Więcej w dziale", "next": "Starsze artykuły", "prev": "Nowsze artykuły", "about": "O nas",
           "contact": "Kontakt", "rights": "Wszelkie prawa zastrzeżone.", "preview": "Zapowiedź dla prenumeratorów",
           "updated": "Aktualizacja", "page": "Strona", "notfound": "Nie znaleziono strony"},
}
TRACKING_SUFFIXES = ["?utm_source=newsletter&utm_medium=email", "?fbclid=IwAR0demo4xYz", "?utm_campaign=morning&utm_source=rss"]


def _labels(site: Site) -> dict[str, str]:
    return LABELS.get(site.language, LABELS["en"])


def _page(site: Site, title: str, main: str, head_extra: str = "", lang: str | None = None) -> str:
    L = _labels(site)
    nav = "".join(f'<li><a href="/{s.slug}/">{_e(s.title)}</a></li>' for s in site.sections)
    news_title, news_text, news_button = NEWSLETTER_TEXT.get(site.language, NEWSLETTER_TEXT["en"])
    trouble_head, trouble_body = "", ""
    if site.trouble:
        # Real scripts, event handlers and a javascript: link in the surrounding markup (not in the
        # article text): a crawler must drop them, a UI must never show them live.
        trouble_head = '<script>window.nightWire = {tracking: true}; document.title = document.title;</script>'
        trouble_body = ('<div class="share-bar"><a href="javascript:window.print()" onclick="return false;">Print</a>'
                        '<img src="/static/pixel.gif" alt="" width="1" height="1" onerror="this.style.display=\'none\'">'
                        '<script>document.querySelectorAll(".share-bar a").length;</script></div>')
    return f"""<!DOCTYPE html>
<html lang="{_e(lang or site.language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} | {_e(site.title)}</title>
<meta property="og:site_name" content="{_e(site.title)}">
{head_extra}
<link rel="alternate" type="application/{'atom' if site.feed_format == 'atom' else 'rss'}+xml" href="/feed.xml" title="{_e(site.title)}">
<style>body{{font-family:Georgia,serif;max-width:62rem;margin:auto}} nav ul{{display:flex;gap:1rem;list-style:none}} .cookie{{background:#eee;padding:.5rem}}</style>
{trouble_head}
</head>
<body>
<div class="cookie-banner cookie" id="cookie-banner"><p>{_e(COOKIE_TEXT.get(site.language, COOKIE_TEXT['en']))}</p><button type="button">OK</button></div>
<header class="masthead">
<a class="logo" href="/">{_e(site.title)}</a>
<p class="tagline">{_e(site.tagline)}</p>
<nav class="main-nav" aria-label="sections"><ul><li><a href="/">{_e(L['home'])}</a></li>{nav}</ul></nav>
</header>
{trouble_body}
{main}
<aside class="newsletter"><h2>{_e(news_title)}</h2><p>{_e(news_text)}</p><form action="/newsletter/" method="post"><input type="email" name="email"><button>{_e(news_button)}</button></form></aside>
<footer class="site-footer">
<ul><li><a href="/about/">{_e(L['about'])}</a></li><li><a href="/contact/">{_e(L['contact'])}</a></li><li><a href="/feed.xml">RSS</a></li></ul>
<p>&copy; {_e(site.title)}. {_e(L['rights'])}</p>
</footer>
</body>
</html>
"""


def _teaser(site: Site, a: Article, edition: int, link_suffix: str = "") -> str:
    first = a.paragraphs(edition)[0]
    words = first.split()
    summary = " ".join(words[:28]) + (" …" if len(words) > 28 else "")
    return (f'<li class="teaser"><a href="{_e(a.path + link_suffix)}">{_e(a.title)}</a> '
            f'<time datetime="{w3c_datetime(a.published)}">{a.published:%Y-%m-%d}</time>'
            f'<p class="summary">{_e(summary)}</p></li>')


def render_home(site: Site, edition: int) -> str:
    L = _labels(site)
    articles = site.visible_articles(edition)
    items = []
    for i, a in enumerate(articles[:HOME_PAGE_SIZE]):
        # Some internal links carry tracking parameters (canonicalisation must strip them).
        suffix = TRACKING_SUFFIXES[i // 3 % len(TRACKING_SUFFIXES)] if i % 3 == 1 else ""
        items.append(_teaser(site, a, edition, suffix))
    sections = "".join(f'<li><a href="/{s.slug}/">{_e(L["more"])} {_e(s.title)}</a></li>' for s in site.sections)
    private = "".join(f'<li><a href="{_e(p.path)}">{_e(L["preview"])}: {_e(p.title)}</a></li>'
                      for p in site.private_pages)
    # The oldest article is linked from the home page without its trailing slash (and with it from
    # its section page and the feeds): one article under two URLs.
    archive = ""
    if articles:
        oldest = articles[-1]
        archive = (f'<aside class="from-the-archive"><a href="{_e(oldest.path.rstrip("/"))}">'
                   f'{_e(oldest.title)}</a></aside>')
    main = (f'<main><h1>{_e(L["latest"])}</h1><ul class="latest">{"".join(items)}</ul>'
            f'{archive}<ul class="section-links">{sections}</ul>'
            f'<aside class="subscribers"><ul>{private}</ul></aside></main>')
    return _page(site, L["home"], main, head_extra=f'<link rel="canonical" href="{site.base_url}">')


def section_pages(site: Site, slug: str, edition: int) -> list[list[Article]]:
    articles = [a for a in site.visible_articles(edition) if a.section == slug]
    return [articles[i:i + SECTION_PAGE_SIZE] for i in range(0, len(articles), SECTION_PAGE_SIZE)] or [[]]


def render_section(site: Site, slug: str, page: int, edition: int) -> str | None:
    pages = section_pages(site, slug, edition)
    if page < 1 or page > len(pages):
        return None
    L = _labels(site)
    items = "".join(_teaser(site, a, edition) for a in pages[page - 1])
    pager = []
    if page > 1:
        prev = f"/{slug}/" if page == 2 else f"/{slug}/page/{page - 1}/"
        pager.append(f'<a rel="prev" href="{prev}">{_e(L["prev"])}</a>')
    if page < len(pages):
        pager.append(f'<a rel="next" href="/{slug}/page/{page + 1}/">{_e(L["next"])}</a>')
    title = site.section_title(slug) + (f" — {L['page']} {page}" if page > 1 else "")
    canonical = site.url(f"/{slug}/" if page == 1 else f"/{slug}/page/{page}/")
    main = (f'<main><h1>{_e(title)}</h1><ul class="section-list">{items}</ul>'
            f'<nav class="pager">{" ".join(pager)}</nav></main>')
    return _page(site, title, main, head_extra=f'<link rel="canonical" href="{canonical}">')


def render_article(site: Site, a: Article, edition: int) -> str:
    L = _labels(site)
    modified = a.modified(edition)
    head = "\n".join([
        f'<link rel="canonical" href="{_e(a.url)}">',
        '<meta property="og:type" content="article">',
        f'<meta property="og:url" content="{_e(a.url)}">',
        f'<meta property="og:title" content="{_e(a.title)}">',
        f'<meta property="article:published_time" content="{w3c_datetime(a.published)}">',
        f'<meta property="article:modified_time" content="{w3c_datetime(modified)}">',
        f'<meta property="article:section" content="{_e(site.section_title(a.section))}">',
        f'<meta name="author" content="{_e(a.author)}">',
        f'<meta name="description" content="{_e(" ".join(a.paragraphs(edition)[0].split()[:30]))}">',
    ])
    paragraphs = "\n".join(f"<p>{_e(p)}</p>" for p in a.paragraphs(edition))
    updated = ""
    if modified != a.published:
        updated = f' · {_e(L["updated"])} <time class="updated" datetime="{w3c_datetime(modified)}">{modified:%Y-%m-%d %H:%M}</time>'
    related = _related(site, a, edition)
    handler_attr = ' onmouseover="window.nightWire && (window.nightWire.seen = true)"' if site.trouble else ""
    main = f"""<main>
<nav class="breadcrumb"><a href="/">{_e(L['home'])}</a> › <a href="/{a.section}/">{_e(site.section_title(a.section))}</a></nav>
<article class="story"{handler_attr}>
<h1 class="headline">{_e(a.title)}</h1>
<p class="byline">{_e(L['by'])} <span class="author">{_e(a.author)}</span> · <time datetime="{w3c_datetime(a.published)}" class="published">{a.published:%Y-%m-%d %H:%M} UTC</time>{updated}</p>
<div class="story-body">
{paragraphs}
</div>
</article>
<aside class="related"><h2>{_e(L['related'])}</h2><ul>{related}</ul></aside>
</main>"""
    return _page(site, a.title, main, head_extra=head, lang=a.lang)


def _related(site: Site, a: Article, edition: int) -> str:
    others = [o for o in site.visible_articles(edition) if o.slug != a.slug]
    same = [o for o in others if o.section == a.section][:3]
    picks = same + [o for o in others if o not in same][: 4 - len(same)]
    links = []
    for i, o in enumerate(picks):
        suffix = "?utm_source=related&utm_medium=web" if i == 1 else ""
        links.append(f'<li><a href="{_e(o.path + suffix)}">{_e(o.title)}</a></li>')
    if site.private_pages and a is site.visible_articles(edition)[0]:
        p = site.private_pages[0]
        links.append(f'<li><a href="{_e(p.path)}">{_e(p.title)}</a></li>')
    return "".join(links)


def render_static(site: Site, kind: str) -> str:
    L = _labels(site)
    text = {
        "about": f"{site.title} — {site.tagline}. This is an offline demonstration site of the DealWatch project; "
                 "every story on it was written for the demo and describes invented reporting.",
        "contact": "Newsroom: newsroom@example.invalid. Corrections: corrections@example.invalid.",
    }[kind]
    return _page(site, L[kind], f"<main><h1>{_e(L[kind])}</h1><p>{_e(text)}</p></main>")


def render_not_found(site: Site) -> str:
    L = _labels(site)
    return _page(site, L["notfound"], f'<main><h1>{_e(L["notfound"])}</h1><p>404</p><p><a href="/">{_e(L["home"])}</a></p></main>')


def render_rss(site: Site, edition: int) -> str:
    items = []
    for a in site.visible_articles(edition):
        items.append(f"""<item>
<title>{xml_escape(a.title)}</title>
<link>{xml_escape(a.url)}</link>
<guid isPermaLink="true">{xml_escape(a.url)}</guid>
<pubDate>{format_datetime(a.published)}</pubDate>
<atom:updated>{w3c_datetime(a.modified(edition))}</atom:updated>
<dc:creator>{xml_escape(a.author)}</dc:creator>
<category>{xml_escape(site.section_title(a.section))}</category>
<description>{xml_escape(" ".join(a.paragraphs(edition)[0].split()[:40]))}</description>
</item>""")
    for case in site.trouble_cases:
        if case.kind == "slow":
            continue  # linked nowhere by default: a crawl would wait for its timeout every time
        items.append(f"""<item>
<title>{xml_escape(case.title)}</title>
<link>{xml_escape(site.url(case.path))}</link>
<guid isPermaLink="true">{xml_escape(site.url(case.path))}</guid>
<pubDate>{format_datetime(datetime(2025, 3, 10, 8, 0, tzinfo=UTC))}</pubDate>
</item>""")
    latest = max((a.modified(edition) for a in site.visible_articles(edition)), default=datetime(2018, 1, 1, tzinfo=UTC))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
<title>{xml_escape(site.title)}</title>
<link>{xml_escape(site.base_url)}</link>
<description>{xml_escape(site.tagline)}</description>
<language>{site.language}</language>
<lastBuildDate>{format_datetime(latest)}</lastBuildDate>
<atom:link href="{xml_escape(site.url('/feed.xml'))}" rel="self" type="application/rss+xml"/>
{chr(10).join(items)}
</channel>
</rss>
"""


def render_atom(site: Site, edition: int) -> str:
    entries = []
    for a in site.visible_articles(edition):
        entries.append(f"""<entry>
<title>{xml_escape(a.title)}</title>
<link rel="alternate" type="text/html" href="{xml_escape(a.url)}"/>
<id>{xml_escape(a.url)}</id>
<published>{w3c_datetime(a.published)}</published>
<updated>{w3c_datetime(a.modified(edition))}</updated>
<author><name>{xml_escape(a.author)}</name></author>
<category term="{xml_escape(a.section)}" label="{xml_escape(site.section_title(a.section))}"/>
<summary>{xml_escape(" ".join(a.paragraphs(edition)[0].split()[:40]))}</summary>
</entry>""")
    latest = max((a.modified(edition) for a in site.visible_articles(edition)), default=datetime(2018, 1, 1, tzinfo=UTC))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{site.language}">
<title>{xml_escape(site.title)}</title>
<subtitle>{xml_escape(site.tagline)}</subtitle>
<link rel="alternate" type="text/html" href="{xml_escape(site.base_url)}"/>
<link rel="self" type="application/atom+xml" href="{xml_escape(site.url('/feed.xml'))}"/>
<id>{xml_escape(site.base_url)}</id>
<updated>{w3c_datetime(latest)}</updated>
{chr(10).join(entries)}
</feed>
"""


def render_sitemap(site: Site, edition: int) -> str:
    if site.sitemap_style == "news-index":
        latest = max(a.modified(edition) for a in site.visible_articles(edition))
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>{xml_escape(site.url('/news-sitemap.xml'))}</loc><lastmod>{w3c_datetime(latest)}</lastmod></sitemap>
<sitemap><loc>{xml_escape(site.url('/sections-sitemap.xml'))}</loc><lastmod>{w3c_datetime(latest)}</lastmod></sitemap>
</sitemapindex>
"""
    urls = [f"<url><loc>{xml_escape(a.url)}</loc><lastmod>{w3c_datetime(a.modified(edition))}</lastmod></url>"
            for a in site.visible_articles(edition)]
    urls += [f"<url><loc>{xml_escape(site.url(c.path))}</loc><lastmod>2025-03-10T08:00:00Z</lastmod></url>"
             for c in site.trouble_cases if c.kind != "slow"]
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            + "\n".join(urls) + "\n</urlset>\n")


def render_news_sitemap(site: Site, edition: int) -> str:
    urls = []
    for a in site.visible_articles(edition):
        urls.append(f"""<url>
<loc>{xml_escape(a.url)}</loc>
<lastmod>{w3c_datetime(a.modified(edition))}</lastmod>
<news:news>
<news:publication><news:name>{xml_escape(site.title)}</news:name><news:language>{a.lang}</news:language></news:publication>
<news:publication_date>{w3c_datetime(a.published)}</news:publication_date>
<news:title>{xml_escape(a.title)}</news:title>
</news:news>
</url>""")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n' + "\n".join(urls) + "\n</urlset>\n")


def render_sections_sitemap(site: Site) -> str:
    urls = [f"<url><loc>{xml_escape(site.base_url)}</loc><changefreq>hourly</changefreq></url>"]
    urls += [f"<url><loc>{xml_escape(site.url(f'/{s.slug}/'))}</loc><changefreq>hourly</changefreq></url>" for s in site.sections]
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            + "\n".join(urls) + "\n</urlset>\n")


def render_robots(site: Site) -> str:
    lines = ["User-agent: *", "Disallow: /private/", "Disallow: /newsletter/"]
    if site.crawl_delay:
        lines.append(f"Crawl-delay: {site.crawl_delay:g}")
    lines += ["", f"Sitemap: {site.sitemap_url}", ""]
    return "\n".join(lines)
