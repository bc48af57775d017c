"""Spiders: one generic news spider, configured per source (crawler/sources.py)."""
