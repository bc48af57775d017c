"""crawler: turns the web (feeds, sitemaps, section pages) into Article records with Scrapy and trafilatura."""
