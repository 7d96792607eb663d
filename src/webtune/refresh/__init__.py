"""Keeping a model fresh: incremental collection, dedup against history, champion vs challenger.

`config.RefreshConfig` is the pipeline's ``refresh:`` section; `history.History` the store of
every earlier dataset version of a pipeline; `tracker.RefreshTracker` what collect learns about
new, changed and unchanged records; `run.run_refresh` one refresh run (docs/pipeline.md).
"""
