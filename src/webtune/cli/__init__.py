"""The `webtune` command line. Commands only parse options and call stage functions."""
