"""Feed packages: the format, the safe reader, signatures, building, the store and ingest."""
