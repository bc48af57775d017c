"""The local news sites: the offline demo web of ``seeds/demo`` and the benchmark's site of real pages."""
