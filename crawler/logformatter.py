"""Log formatting: dropped pages are counted in the run report, so they are logged quietly."""

from __future__ import annotations

import logging

from scrapy import logformatter


class QuietDropsLogFormatter(logformatter.LogFormatter):
    def dropped(self, item, exception, response, spider=None):
        entry = super().dropped(item, exception, response, spider)
        entry["level"] = logging.DEBUG
        return entry

    def scraped(self, item, response, spider=None):
        entry = super().scraped(item, response, spider)
        entry["msg"] = "Scraped from %(src)s"
        return entry
