"""Benchmarks of DealWatch against its peers and against the machine's limit.

``python -m bench all`` (or ``dealwatch bench all``) runs every section, prints a table and
rewrites ``BENCHMARKS.md``: crawl-to-index throughput (vs the extraction ceiling and
news-please), bulk indexing, search latency at archive scale, CSV export and extraction
quality. Each section lives in its own module; none of them is part of the test suite.
"""
