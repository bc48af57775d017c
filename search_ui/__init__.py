"""search_ui: the web pages, JSON API and exports over the archive (a thin face on indexer.query)."""
