"""The loss plot shared by the local and the hosted trainer."""

from __future__ import annotations

from webtune.hosted.results import LOSS_COLUMNS, parse_metrics_csv
from webtune.train.monitor import LOCAL_LOSS_COLUMNS, plot_loss

PNG = b"\x89PNG\r\n\x1a\n"
HOSTED_CSV = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n1,2.0,0.5,,\n2,1.5,0.6,1.7,0.55\n"


def test_plot_loss_of_a_hosted_result_file(tmp_path):
    assert plot_loss(parse_metrics_csv(HOSTED_CSV), LOSS_COLUMNS, tmp_path / "loss.png", "t")
    assert (tmp_path / "loss.png").read_bytes()[:8] == PNG
    assert not plot_loss([{"step": 1, "train_loss": None}], LOSS_COLUMNS, tmp_path / "none.png", "t")
    assert not (tmp_path / "none.png").exists()


def test_plot_loss_of_local_metrics_with_a_moving_average(tmp_path):
    rows = [{"step": s, "loss": 3.0 - s / 100} for s in range(1, 101)] + [{"step": 50, "val_loss": 2.6},
                                                                         {"step": 100, "val_loss": 2.2}]
    assert plot_loss(rows, LOCAL_LOSS_COLUMNS, tmp_path / "plots" / "loss.png", "lora")
    assert (tmp_path / "plots" / "loss.png").read_bytes()[:8] == PNG
    assert [p.name for p in (tmp_path / "plots").iterdir()] == ["loss.png"]  # no temporary file left
    assert not plot_loss([{"step": 1, "lr": 0.1}], LOCAL_LOSS_COLUMNS, tmp_path / "none.png", "lora")
