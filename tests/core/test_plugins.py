"""The name registry behind sources, steps, trainers and metrics."""

import pytest

from webtune.errors import ConfigError
from webtune.plugins import Registry


def test_register_and_get_with_a_helpful_error():
    reg = Registry("widget")

    @reg.register("round")
    class Round:
        pass

    assert reg.get("round") is Round and Round.registered_name == "round"
    assert "round" in reg and reg.names() == ["round"]
    with pytest.raises(ConfigError, match=r"unknown widget 'rond' \(did you mean 'round'\?\); choose one of: round"):
        reg.get("rond")


def test_double_registration_is_refused():
    reg = Registry("widget")
    reg.register("a")(type("A", (), {}))
    with pytest.raises(ValueError):
        reg.register("a")(type("B", (), {}))
