"""indexer: turns articles into searchable documents and answers queries (everything Elasticsearch-specific)."""
