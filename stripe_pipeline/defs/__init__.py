"""The Dagster code location, one folder per concern. Each folder's `definitions.py` ends in a
`defs()` that `stripe_pipeline.definitions` merges; shared pieces live in `common.py`."""
