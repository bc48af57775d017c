"""dealwatch: settings and the command-line entry point that ties crawler, indexer and search_ui together."""
