"""The registry behind every pluggable kind: one backend shape, built-ins and plugins through one door."""

from __future__ import annotations

import json
import textwrap
from typing import Literal

import pytest

from webtune.clean.steps import STEPS
from webtune.clean.steps.base import Step, StepConfig
from webtune.config import validate_pipeline
from webtune.configbase import StrictModel
from webtune.errors import ConfigError
from webtune.plugins import KINDS, Registry, load_plugins


class RoundConfig(StrictModel):
    widget: Literal["round"] = "round"


class Round:
    Config = RoundConfig

    def __init__(self, config):
        self.config = config

    def spin(self) -> str:
        return "spun"


def widgets(**kwargs) -> Registry:
    return Registry("widget", method="spin", **kwargs)


def test_register_and_get_with_a_helpful_error():
    reg = widgets()
    reg.register("round")(Round)
    assert reg.get("round") is Round and Round.registered_name == "round"
    assert "round" in reg and reg.names() == ["round"]
    assert reg.entries()[0].origin == f"module {__name__}"  # registered in code, not by an entry point
    with pytest.raises(ConfigError, match=r"unknown widget 'rond' \(did you mean 'round'\?\); choose one of: round"):
        reg.get("rond")


def test_double_registration_is_refused():
    reg = widgets()
    reg.register("round")(Round)
    reg.register("round")(Round)  # the same class again (a module imported twice) is fine
    other = type("Other", (Round,), {})
    with pytest.raises(ValueError, match="widget 'round' is registered twice"):
        reg.register("round")(other)


@pytest.mark.parametrize("attributes, missing", [
    ({"spin": lambda self: None}, "a `Config` class"),
    ({"Config": dict, "spin": lambda self: None}, "a `Config` class"),
    ({"Config": RoundConfig}, "a `spin` method"),
    ({"Config": StrictModel, "spin": lambda self: None}, "a `widget: Literal['round']` field in its Config"),
])
def test_a_class_without_the_backend_shape_is_refused_saying_what_it_lacks(attributes, missing):
    with pytest.raises(TypeError, match=r"widget 'round' \(.*Bad\) cannot be registered: it needs ") as err:
        widgets().register("round")(type("Bad", (), attributes))
    assert missing in str(err.value)


def test_every_kind_has_one_method_a_tag_and_an_entry_point_group_without_spaces():
    assert set(KINDS) >= {"source", "step", "generator", "trainer", "metric", "exporter", "judge"}
    assert KINDS["step"].method == "apply" and KINDS["trainer"].method == "train"
    assert all(" " not in kind.group and kind.group == f"webtune.{kind.name}s" for kind in KINDS.values())
    registries = load_plugins()
    assert set(registries) >= {"source", "step", "trainer", "metric", "exporter", "judge"}
    for kind, registry in registries.items():
        for entry in registry.entries():  # every built-in passed the shape check on the way in
            assert entry.origin.startswith("built-in (webtune."), entry
            assert hasattr(entry.cls, "Config") and callable(getattr(entry.cls, KINDS[kind].method))


# ---------------------------------------------------------------- entry points

def install_fake_distribution(root, name: str, entry_points: str, modules: dict[str, str]) -> None:
    """A distribution as pip leaves it (``<name>.dist-info`` with entry_points.txt) on ``root``."""
    info = root / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))


GADGETS = """
    from typing import Literal
    from webtune.configbase import StrictModel

    class SquareConfig(StrictModel):
        widget: Literal["square"] = "square"

    class Square:
        Config = SquareConfig
        def __init__(self, config):
            self.config = config
        def spin(self):
            return "square"
"""


def test_plugins_load_from_entry_points_after_the_builtins_and_a_broken_one_is_a_warning(
        tmp_path, monkeypatch, capsys):
    install_fake_distribution(tmp_path, "gadgets", """
        [webtune.widgets]
        square = gadgets_square:Square
        broken = gadgets_broken:Nothing
        shapeless = gadgets_square:SquareConfig
    """, {"gadgets_square": GADGETS, "gadgets_broken": "import a_module_that_is_not_there\n",
          "builtin_round": f"from {__name__} import Round, REG\nREG.register('round')(Round)\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = widgets(builtins=["builtin_round"])
    monkeypatch.setitem(globals(), "REG", reg)

    assert reg.names() == ["round", "square"]
    origins = {entry.name: entry.origin for entry in reg.entries()}
    assert origins == {"round": "built-in (builtin_round)",
                       "square": "gadgets 0.1 (webtune.widgets: square = gadgets_square:Square)"}
    assert reg.get("square")(reg.get("square").Config()).spin() == "square"
    # Only webtune's own warning lines: a stray thread of another test may write to stderr too.
    warnings = [line for line in capsys.readouterr().err.strip().splitlines() if line.startswith("webtune: warning:")]
    assert len(warnings) == 2 and len(reg.problems) == 2
    assert warnings[0] == ("webtune: warning: plugin gadgets 0.1 (webtune.widgets: broken = gadgets_broken:Nothing) "
                           "failed to load and is skipped: ModuleNotFoundError: No module named "
                           "'a_module_that_is_not_there'")
    assert "shapeless = gadgets_square:SquareConfig" in warnings[1] and "a `spin` method" in warnings[1]


def test_a_builtin_that_fails_to_import_is_an_error_not_a_warning():
    with pytest.raises(ModuleNotFoundError):
        widgets(builtins=["webtune_no_such_builtin"]).names()


# ---------------------------------------------------------------- the pipeline file


class ShoutConfig(StepConfig):
    step: Literal["shout"] = "shout"
    word: str = "LOUD"
    times: int = 1


class Shout(Step):
    Config = ShoutConfig

    def apply(self, doc, stats):
        doc.text = doc.text.upper()


@pytest.fixture
def shout_step(monkeypatch):
    """``step: shout`` registered as a plugin would be, removed again after the test."""
    STEPS.load()
    monkeypatch.setattr(STEPS, "_entries", dict(STEPS._entries))
    STEPS.register("shout", origin="test plugin")(Shout)
    return Shout


def test_a_plugin_step_is_validated_by_its_own_config(shout_step):
    pipeline = validate_pipeline({"name": "p", "clean": {"steps": [{"step": "length", "min_words": 2},
                                                                    {"step": "shout", "times": 3}]}})
    shout = pipeline.clean.steps[1]
    assert isinstance(shout, ShoutConfig) and shout.times == 3
    assert pipeline.clean.model_dump()["steps"][1] == {"step": "shout", "word": "LOUD", "times": 3}


def test_errors_name_the_key_path_inside_a_plugin_config_and_list_plugins_among_the_choices(shout_step):
    with pytest.raises(ConfigError) as err:
        validate_pipeline({"name": "p", "clean": {"steps": [{"step": "shout", "times": "x", "bogus": 1},
                                                             {"step": "shuot"}]}}, source="p.yaml")
    assert str(err.value).splitlines() == [
        "p.yaml: clean.steps.0.times: expected an integer (got 'x')",
        "p.yaml: clean.steps.0.bogus: unknown key",
        "p.yaml: clean.steps.1: unknown step 'shuot' (did you mean 'shout'?); choose one of: "
        + ", ".join(sorted(STEPS.names())),
    ]
    assert "shout" in STEPS.names()


def test_the_schema_includes_plugin_configs(shout_step):
    from webtune.cli.schema import pipeline_schema

    schema = json.dumps(pipeline_schema())
    assert '"ShoutConfig"' in schema and '"shout": "#/$defs/ShoutConfig"' in schema


def test_without_the_plugin_the_step_is_unknown():
    with pytest.raises(ConfigError, match=r"clean\.steps\.0: unknown step 'shout'"):
        validate_pipeline({"name": "p", "clean": {"steps": [{"step": "shout"}]}})


def test_dataset_generators_register_without_a_tag_field_in_their_config():
    class TemplatesConfig(StrictModel):
        templates: list[str] = []

    class Templates:
        Config = TemplatesConfig

        def __init__(self, config):
            self.config = config

        def generate(self, batch, env):
            return []

    generators = Registry("generator")
    generators.register("templates")(Templates)
    assert generators.get("templates") is Templates and generators.spec.group == "webtune.generators"
    with pytest.raises(TypeError, match="it needs a `generate` method"):
        generators.register("other")(type("Other", (), {"Config": TemplatesConfig}))


@pytest.mark.parametrize("kind", ["trainer", "metric", "source"])
def test_builtin_backends_are_built_from_their_config(kind):
    for entry in load_plugins()[kind].entries():
        config = entry.cls.Config.model_construct()  # defaults, unvalidated: required keys may be unset
        assert entry.cls(config).config is config, entry


class EchoSourceConfig(StrictModel):
    kind: Literal["echo"] = "echo"
    text: str


class EchoTrainConfig(StrictModel):
    backend: Literal["echo"] = "echo"
    epochs: int = 1


class EchoMetricConfig(StrictModel):
    metric: Literal["echo"] = "echo"


def echo_backend(config: type, method: str) -> type:
    return type("Echo", (), {"Config": config, "__init__": lambda self, c: None, method: lambda self, *a: None})


@pytest.mark.parametrize("home, registry, config, method, section, read", [
    ("webtune.collect.sources", "SOURCES", EchoSourceConfig, "collect",
     {"sources": [{"kind": "echo", "text": "hi"}]}, lambda p: p.sources[0]),
    ("webtune.train.backends", "TRAINERS", EchoTrainConfig, "train",
     {"train": {"backend": "echo", "epochs": 2}}, lambda p: p.train),
    ("webtune.evaluate.metrics", "METRICS", EchoMetricConfig, "aggregate",
     {"evaluate": {"metrics": ["loss", "echo"]}}, lambda p: p.evaluate.metrics[1]),
])
def test_plugin_sources_trainers_and_metrics_are_accepted_in_their_sections(
        monkeypatch, home, registry, config, method, section, read):
    import importlib

    reg = getattr(importlib.import_module(home), registry)
    reg.load()
    with pytest.raises(ConfigError, match="unknown"):
        validate_pipeline({"name": "p", **section})
    monkeypatch.setattr(reg, "_entries", dict(reg._entries))
    reg.register("echo", origin="test plugin")(echo_backend(config, method))
    assert isinstance(read(validate_pipeline({"name": "p", **section})), config)
