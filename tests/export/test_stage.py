"""The export stage after register, its config section, and exports recorded on the version."""

from __future__ import annotations

import json

import pytest

from webtune.config import validate_pipeline
from webtune.errors import ConfigError
from webtune.handoffs import RegistryVersion
from webtune.pipeline import STAGE_NAMES, run_one_stage, stage_spec


def test_export_comes_after_register_and_its_section_is_optional():
    assert STAGE_NAMES[-2:] == ("register", "export")
    assert validate_pipeline({"name": "p"}).export is None
    config = validate_pipeline({"name": "p", "export": {"formats": [{"format": "gguf"}, {"format": "ollama",
                                                                                        "quantization": "f16"}]}}).export
    assert [f.format for f in config.formats] == ["gguf", "ollama"] and config.roundtrip.max_prompts == 8
    with pytest.raises(ConfigError, match=r"export\.formats\.0.*unknown format 'ggfu' \(did you mean 'gguf'\?\)"):
        validate_pipeline({"name": "p", "export": {"formats": [{"format": "ggfu"}]}})
    with pytest.raises(ConfigError, match=r"export\.formats\.0\.quantizations\.0"):
        validate_pipeline({"name": "p", "export": {"formats": [{"format": "gguf", "quantizations": ["q2"]}]}})


def test_the_stage_exports_the_registered_version_and_records_it(tiny_version, tmp_path):
    registry, version = tiny_version
    register_dir = tmp_path / "register-out"
    register_dir.mkdir()
    version.model_copy(update={"registry": str(registry.root)}).write(register_dir)
    pipeline = validate_pipeline({"name": "p", "register": {"path": str(registry.root)},
                                  "export": {"formats": [{"format": "ollama", "quantization": "f16"}],
                                             "roundtrip": {"max_prompts": 1, "max_new_tokens": 6}}})
    run_dir = tmp_path / "run"
    manifest = run_one_stage(stage_spec("export"), pipeline, run_dir, inputs={"register": register_dir})
    out = run_dir / "export" / "ollama"
    assert (out / "Modelfile").read_text().startswith("FROM ./tiny-v1-f16.gguf\n")
    report = json.loads((out / "roundtrip.json").read_text())["results"]["f16"]
    assert report["passed"] and report["exact_answers"] == report["prompts"] == 1
    assert manifest.stats["roundtrip"]["f16"]["passed"] is True and manifest.counts.kept == 1
    stored = RegistryVersion.read(registry.version_dir("tiny", 1))
    recorded = [e for e in stored.exports if e.path == str(out)]
    assert recorded and recorded[0].format == "ollama" and set(recorded[0].files) == {"Modelfile", "tiny-v1-f16.gguf"}
    assert recorded[0].roundtrip["f16"]["passed"] is True

    from rich.console import Console

    from webtune.export.runner import print_exported

    console = Console(record=True, width=250)
    print_exported(run_dir / "export", console)  # what `webtune run` prints, also when export was skipped
    text = console.export_text()
    assert "│ f16" in text and "100.0% of" in text and "pass" in text and f"ollama create NAME -f {out / 'Modelfile'}" in text


def test_exports_through_the_cli_are_recorded_on_the_version(exported):
    registry, out, output = exported
    exports = registry.get("tiny", 1).exports
    by_format = {e.format: e for e in exports if e.path.startswith(str(out.resolve()))}
    assert set(by_format) == {"hf", "gguf", "ollama"}
    assert set(by_format["gguf"].files) == {"tiny-v1-f16.gguf", "tiny-v1-q8_0.gguf"}
    assert all(len(digest) == 64 for digest in by_format["gguf"].files.values())
    assert by_format["gguf"].roundtrip["q8_0"]["token_agreement"] >= 0.95
    assert "recorded on tiny@1" in output


def test_cli_errors_are_one_line(tiny_version, tmp_path):
    from typer.testing import CliRunner

    from webtune.cli.main import app

    registry, _ = tiny_version
    result = CliRunner().invoke(app, ["export", "tiny@1", "-f", "onnx", "-o", str(tmp_path / "o"),
                                      "--registry", str(registry.root)])
    assert result.exit_code == 2 and "--format: unknown exporter 'onnx'" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["export", "tiny@7", "-f", "gguf", "-o", str(tmp_path / "o"),
                                      "--registry", str(registry.root)])
    assert result.exit_code == 1 and "no version 7" in result.output
