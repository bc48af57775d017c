"""Re-extraction's language of a source: from the archive's source registry, then the sources file.

A page without ``<html lang>`` takes its source's language. Re-extraction runs long after the
crawl, maybe on another machine, so it asks the archive which sources the crawls registered;
the configured sources file fills in the rest. No demo file is read (production code knows no
demo).
"""

from __future__ import annotations

from crawler.reextract import source_languages
from crawler.sources import load_sources
from indexer.archive import Archive
from indexer.source_registry import ConfiguredSource


def test_languages_come_from_the_source_registry_and_then_the_sources_file(settings, tmp_path):
    s = settings.replace(index_prefix=f"{settings.index_prefix}langs-")
    archive = Archive(s)
    archive.drop()
    try:
        configured = load_sources(s.sources_file)
        overridden = configured[0]
        wrong = "pl" if overridden.language != "pl" else "en"
        archive.register_sources([ConfiguredSource(overridden.name, language=wrong),
                                  ConfiguredSource("registered-only", language="cs"),
                                  ConfiguredSource("no-language")])
        langs = source_languages(s, archive)
        assert langs[overridden.name] == wrong             # the registry wins over the file
        assert langs["registered-only"] == "cs"
        assert "no-language" not in langs
        assert {c.name: c.language for c in configured[1:]}.items() <= langs.items()
        assert "baltic-ledger" not in langs                # the demo's sources are nobody's business here

        missing = s.replace(sources_file=tmp_path / "absent.yaml")
        assert source_languages(missing, archive) == {overridden.name: wrong, "registered-only": "cs"}
    finally:
        archive.drop()
