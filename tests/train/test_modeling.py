"""Precision choices of webtune.train.modeling on CPU."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("caps, native", [({"avx512_bf16": True}, True), ({"amx_bf16": True}, True),
                                          ({"avx512_f": True, "avx512_bf16": False}, False), ({}, False)])
def test_native_bf16_is_read_from_the_cpu_capabilities(monkeypatch, caps, native):
    from webtune.train import modeling

    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: caps)
    assert modeling.cpu_has_native_bf16() is native


def test_auto_stays_fp32_on_cpu_and_the_tip_names_bf16_where_it_is_native(monkeypatch):
    from webtune.train import modeling

    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_bf16": True})
    assert modeling.pick_precision("auto", "cpu") == "no"  # the same numbers on every CPU
    assert modeling.pick_precision("bf16", "cpu") == "bf16"
    assert "train.precision: bf16" in modeling.precision_tip("auto", "cpu", "lora")
    assert modeling.precision_tip("fp32", "cpu", "lora") is None  # asked for explicitly
    assert modeling.precision_tip("auto", "cpu", "full") is None
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: {"avx512_f": True})
    assert modeling.precision_tip("auto", "cpu", "lora") is None  # emulated bf16 is slower
