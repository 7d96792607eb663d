"""Continue or retrain (train.init_adapter), the champion gates, exit codes and rollback."""

from __future__ import annotations

import pytest

from webtune.handoffs import ChampionReport, ChampionSet, EvalReport, GateResults
from webtune.registry.config import PromotionGates
from webtune.registry.gates import check_gates


@pytest.fixture
def saved_adapter(tmp_path, tiny_model_dir):
    """A LoRA adapter on the tiny model with non-zero weights, saved as training saves it."""
    import torch

    from webtune.train.backends.local_config import LocalTrainConfig
    from webtune.train.modeling import load_for_training

    model = load_for_training(tiny_model_dir, LocalTrainConfig(), "cpu", "no")
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.requires_grad:
                param.fill_(0.0123)
    model.save_pretrained(tmp_path / "adapter")
    return tmp_path / "adapter"


def test_init_adapter_continues_from_the_saved_weights(tiny_model_dir, saved_adapter):
    from webtune.train.backends.local_config import LocalTrainConfig
    from webtune.train.modeling import load_for_training

    fresh = load_for_training(tiny_model_dir, LocalTrainConfig(), "cpu", "no")
    continued = load_for_training(tiny_model_dir, LocalTrainConfig(init_adapter=str(saved_adapter)), "cpu", "no")
    trainable = {n: p for n, p in continued.named_parameters() if p.requires_grad}
    assert trainable and all(float(p.detach().mean()) == pytest.approx(0.0123) for p in trainable.values())
    assert any(float(p.detach().abs().sum()) == 0.0 for n, p in fresh.named_parameters() if "lora_B" in n)


def test_init_adapter_is_checked(tmp_path, tiny_model_dir):
    from pydantic import ValidationError

    from webtune.errors import ConfigError
    from webtune.train.backends.local_config import LocalTrainConfig
    from webtune.train.modeling import load_for_training

    with pytest.raises(ValidationError, match="init_adapter continues a LoRA adapter"):
        LocalTrainConfig(method="full", init_adapter="x")
    with pytest.raises(ConfigError, match="holds no LoRA adapter"):
        load_for_training(tiny_model_dir, LocalTrainConfig(init_adapter=str(tmp_path)), "cpu", "no")


def pipeline_with_production(tmp_path, saved_adapter, train: str):
    from webtune.config import validate_pipeline
    from webtune.registry.store import ModelRegistry

    pipeline = validate_pipeline({"name": "p", "register": {"path": "registry"}, "refresh": {"train": train}},
                                 base_dir=tmp_path)
    registry = ModelRegistry(tmp_path / "registry")
    registry.register("p", {"kind": "adapter", "gates": GateResults(passed=True)}, saved_adapter)
    registry.promote("p", 1)
    return pipeline


@pytest.mark.parametrize("train", ["continue", "retrain"])
def test_continue_starts_from_the_production_adapter_and_retrain_from_the_base(tmp_path, saved_adapter, train):
    from rich.console import Console

    from webtune.refresh.run import with_training_start

    pipeline, start = with_training_start(pipeline_with_production(tmp_path, saved_adapter, train), Console())
    if train == "continue":
        assert start == {"mode": "continue", "from": "p@1"}
        assert pipeline.train.init_adapter == str(tmp_path / "registry" / "p" / "v1" / "artifact")
    else:
        assert start == {"mode": "retrain", "from": "base model"} and pipeline.train.init_adapter is None


def test_champion_settings_name_production_and_the_frozen_benchmark(tmp_path, saved_adapter):
    from webtune.pipeline import _evaluate_shared
    from webtune.refresh.history import History

    pipeline = pipeline_with_production(tmp_path, saved_adapter, "continue")
    history = History(tmp_path / "registry" / "history" / "p")
    test = tmp_path / "test.jsonl"
    test.write_text("{}\n")
    history.commit(1, {"test.jsonl": test}, {}, {})
    champion = _evaluate_shared(pipeline)["champion"]
    assert champion["label"] == "p@1" and champion["kind"] == "adapter"
    assert champion["benchmark"] == [str((history.version_dir(1) / "test.jsonl").resolve())]


def report_with(benchmark: tuple[float, float] | None, new: tuple[float, float] | None) -> EvalReport:
    sets = [ChampionSet(name=name, examples=5, champion_loss=1.0, challenger_loss=0.9, delta=-0.1,
                        delta_ci95=list(ci)) for name, ci in (("benchmark", benchmark), ("new", new)) if ci]
    return EvalReport(metrics={"base": {"loss": 2.0}, "tuned": {"loss": 1.0}},
                      champion=ChampionReport(champion="m@1", sets=sets))


@pytest.mark.parametrize("benchmark, new, passed", [
    ((-0.2, -0.01), (-0.3, -0.1), {"champion_benchmark_loss": True, "champion_new_loss": True}),
    ((-0.2, 0.05), (-0.3, -0.1), {"champion_benchmark_loss": False, "champion_new_loss": True}),
    ((-0.2, 0.01), (-0.3, 0.01), {"champion_benchmark_loss": True, "champion_new_loss": False}),
    (None, (-0.3, -0.1), {"champion_benchmark_loss": False, "champion_new_loss": True}),
])
def test_promotion_needs_the_champion_gate_on_both_sets(benchmark, new, passed):
    checks = {g.gate: g for g in check_gates(PromotionGates(), report_with(benchmark, new))}
    assert {k: v.passed for k, v in checks.items() if k.startswith("champion")} == passed
    assert "m@1" in checks["champion_benchmark_loss"].detail


def test_no_champion_gates_without_a_comparison():
    gates = check_gates(PromotionGates(), EvalReport(metrics={"base": {"loss": 2.0}, "tuned": {"loss": 1.0}}))
    assert [g.gate for g in gates] == ["tuned_loss_below_base"]
    off = PromotionGates.model_validate({"champion": {"benchmark_loss_delta_upper": None}})
    assert [g.gate for g in check_gates(off, report_with((0, 1), (-1, -0.5)))][1:] == ["champion_new_loss"]
