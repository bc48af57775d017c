"""The backfill: articles from WARC archives (CC-NEWS, any crawler's WARCs) into the archive.

The crawler's other way of turning the web into articles: instead of fetching pages, it reads them
from WARC files. Modules, in the order a record meets them:

- :mod:`.inputs` and :mod:`.ccnews`: what to read (files, folders, globs, URLs, CC-NEWS months);
- :mod:`.records`: one file's records, from any offset, through damage and broken streams;
- :mod:`.filters`: the import's options and which source a page belongs to;
- :mod:`.prefilter`: one Aho-Corasick pass deciding whether a page could be about the topic;
- :mod:`.importer`: one file through extraction and enrichment into the archive, checkpointed;
- :mod:`.local` and :mod:`.dask_runner`: the files spread over processes here or a Dask cluster;
- :mod:`.progress`: the live line; :mod:`.cli`: ``dealwatch import``.
"""
