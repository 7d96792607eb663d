"""The example GitHub Actions workflow: scheduled, uploads the report, fails the job when the gate fails."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "refresh" / "refresh.yml"


def steps() -> dict[str, dict]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    return {step.get("name", step.get("uses")): step for step in workflow["jobs"]["refresh"]["steps"]}


def test_the_workflow_runs_on_a_schedule_and_uploads_the_report_even_on_failure():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers
    upload = steps()["Upload the report"]
    assert upload["uses"].startswith("actions/upload-artifact@") and upload["if"] == "always()"
    assert "report" in upload["with"]["path"] and "refresh.log" in upload["with"]["path"]
    assert "webtune run" in steps()["Refresh"]["run"]


@pytest.mark.parametrize("code, job_fails", [(0, False), (4, True), (1, True), (2, True)])
def test_the_job_fails_when_the_gate_fails_or_the_run_errs(code, job_fails):
    script = steps()["Fail when the gate failed"]["run"].replace("${{ steps.refresh.outputs.code }}", str(code))
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert (result.returncode != 0) == job_fails, result.stdout
    if code == 4:
        assert "not promoted" in result.stdout


def test_the_refresh_step_keeps_webtunes_exit_code_through_the_pipe(tmp_path):
    script = steps()["Refresh"]["run"].replace('webtune run "$PIPELINE"', "sh -c 'echo gate failed; exit 4'")
    output = tmp_path / "github_output"
    result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], capture_output=True, text=True,
                            cwd=tmp_path, env={"GITHUB_OUTPUT": str(output), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0  # the step itself passes; the last step decides
    assert output.read_text().strip() == "code=4" and (tmp_path / "refresh.log").read_text() == "gate failed\n"
