"""Property-based (hypothesis) tests of the pipeline loader, in `config_properties.py`.

They need ``hypothesis`` (the ``dev`` extra); without it this file still collects and skips
one test saying so, so the check that every test file is collected keeps passing.
"""

import pytest

try:
    from .config_properties import *  # noqa: F401,F403 (the tests themselves)
except ModuleNotFoundError as exc:
    if exc.name != "hypothesis":
        raise

    def test_config_properties_need_hypothesis():
        pytest.importorskip("hypothesis")
