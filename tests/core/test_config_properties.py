"""Property-based tests of the pipeline loader: any file loads or fails with a ConfigError naming it."""

from __future__ import annotations

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import yaml

from webtune.config import load_pipeline
from webtune.errors import ConfigError

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
KEYS = st.sampled_from(["name", "train", "epochs", "evaluate", "max_new_tokens", "lora", "r", "yes", "no", "on",
                        "sources", "kind", "paths", "seed", "steps"]) | st.text(min_size=1, max_size=6)
SCALARS = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats() | st.text(max_size=8)
TREES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
                     max_leaves=10)
YAML_TOKENS = st.sampled_from(["name: demo\n", "train:\n", "  epochs: ", ".inf", "&a ", "*a", "[", "]", "{", "}",
                               ": ", "- ", "\n", "  ", "yes", "1e21", "\xe9", "\t", "'", '"', "#", "!!python/name:x"])


def check(path) -> None:
    """Loading ``path`` succeeds, or raises ConfigError whose every line names the file."""
    try:
        load_pipeline(path)
    except ConfigError as exc:
        assert all(line.startswith(str(path)) for line in str(exc).splitlines()), str(exc)


@SETTINGS
@given(tree=st.dictionaries(KEYS, TREES, max_size=5))
def test_any_yaml_tree_loads_or_names_the_file(tmp_path, tree):
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"name": "demo", **tree}, allow_unicode=True))
    check(path)


@SETTINGS
@given(parts=st.lists(YAML_TOKENS, max_size=30))
def test_any_yaml_like_text_loads_or_names_the_file(tmp_path, parts):
    path = tmp_path / "pipeline.yaml"
    path.write_text("".join(parts), encoding="utf-8")
    check(path)


@SETTINGS
@given(data=st.binary(max_size=200))
def test_any_bytes_load_or_name_the_file(tmp_path, data):
    path = tmp_path / "pipeline.yaml"
    path.write_bytes(data)
    check(path)


@SETTINGS
@given(key=st.sampled_from(["name", "seed", "description", "train"]), gap=st.integers(0, 3))
def test_a_repeated_key_names_both_lines(tmp_path, key, gap):
    lines = ["name: demo", "seed: 1", "description: x", "train: {}"]
    repeated = lines + ["# filler"] * gap + [f"{key}: {{}}" if key == "train" else f"{key}: 2"]
    path = tmp_path / "pipeline.yaml"
    path.write_text("\n".join(repeated) + "\n")
    first = next(i for i, line in enumerate(lines, 1) if line.startswith(f"{key}:"))
    with pytest.raises(ConfigError) as err:
        load_pipeline(path)
    assert str(err.value) == f"{path}:{len(repeated)}: {key}: duplicate key (also on line {first})"
