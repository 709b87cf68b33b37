"""The enrichment pipeline: providers lookup, then verification and intent in parallel, then ICP
scoring, the charge and the stored record."""
