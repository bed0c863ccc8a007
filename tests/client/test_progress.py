"""Where a job is, in the client's words and pictures: the progress text, the bar over every
model of an ensemble, the loss curves one model after another; and views written before jobs
reported per model (no `member`), read as one model."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pytest

from forecast_client import plot_history
from forecast_client.progress import JobProgress, progress_text


def progress(epoch: int, epochs: int, **more: Any) -> dict[str, Any]:
    """A job's progress as the service reports it (losses aside)."""
    return {"epoch": epoch, "epochs": epochs, "train_loss": 0.5, "val_loss": 0.25} | more


def history(epochs_by_model: list[int], *, members: bool = True) -> list[dict[str, Any]]:
    """Loss rows of models run one after another, `epochs_by_model[k]` epochs for model k + 1;
    without `member` as first written when `members` is False."""
    rows = []
    for member, epochs in enumerate(epochs_by_model, start=1):
        for epoch in range(1, epochs + 1):
            row = {"epoch": epoch, "train_loss": 1.0 / epoch, "val_loss": 2.0 / (epoch + member)}
            rows.append(row | ({"member": member} if members else {}))
    return rows


def test_progress_text_names_the_model_of_an_ensemble() -> None:
    assert progress_text(progress(58, 1000, member=1, members=1)) == "epoch 58 / 1,000"
    assert progress_text(progress(58, 1000, member=2, members=3)) == (
        "model 2 of 3 · epoch 58 / 1,000"
    )
    assert progress_text(progress(11, 100)) == "epoch 11 / 100"  # written before members
    assert progress_text(None) == progress_text({}) == "-"


def shown_bar(views: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> str:
    """The bar's last line on standard error after showing `views` and closing."""
    bar = JobProgress("0123456789abcdef")
    for view in views:
        bar.show(view)
    bar.close()
    return capsys.readouterr().err.split("\r")[-1]


def test_the_bar_counts_every_models_epochs_and_names_the_fitting_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = shown_bar(
        [
            {"status": "running", "progress": progress(0, 1000, member=1, members=3)},
            {"status": "running", "progress": progress(700, 1000, member=1, members=3)},
            {"status": "running", "progress": progress(58, 1000, member=2, members=3)},
        ],
        capsys,
    )
    assert line.startswith("job 01234567 · model 2 of 3:")
    assert "1058/3000" in line  # model 1 counts its 1,000 epochs, as `fraction` does
    assert "running train=0.5 val=0.25" in line


def test_a_search_shows_its_candidates_then_the_models_on_a_bar_of_their_own(
    capsys: pytest.CaptureFixture[str],
) -> None:
    searching = progress(40, 100, member=2, members=8, stage="search")
    assert progress_text(searching) == "candidate 2 of 8 · epoch 40 / 100"
    line = shown_bar(
        [
            {"status": "running", "progress": searching},
            {"status": "running", "progress": progress(30, 100, member=1, members=3, stage="fit")},
        ],
        capsys,
    )
    assert line.startswith("job 01234567 · model 1 of 3:")
    assert "30/300" in line  # the candidates' 140 epochs are not the model's


def test_a_view_without_member_is_one_model_on_the_bar(capsys: pytest.CaptureFixture[str]) -> None:
    line = shown_bar([{"status": "running", "progress": progress(11, 100)}], capsys)
    assert line.startswith("job 01234567:")
    assert "11/100" in line
    assert "model" not in line


def test_the_loss_curves_run_one_model_after_another() -> None:
    ax = plot_history(history([3, 2]))
    try:
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert [list(line.get_xdata()) for line in ax.get_lines() if line.get_marker() == "."] == [
            [1, 2, 3], [1, 2, 3], [4, 5], [4, 5],  # model 1: training, validation; model 2
        ]  # fmt: skip
        assert {"training loss", "validation loss", "best epoch"} <= set(lines)
        assert [text.get_text().strip() for text in ax.texts] == ["model 1", "model 2"]
        assert ax.get_xlabel() == "epochs run, model after model"
        legend = [text.get_text() for text in ax.get_legend().get_texts()]
        assert legend == ["training loss", "validation loss", "best epoch"]  # once each
    finally:
        plt.close(ax.figure)


def test_loss_rows_without_member_are_one_models() -> None:
    ax = plot_history(history([4], members=False))
    try:
        curves = [line for line in ax.get_lines() if line.get_marker() == "."]
        assert [list(line.get_xdata()) for line in curves] == [[1, 2, 3, 4], [1, 2, 3, 4]]
        assert len(ax.texts) == 0
        assert ax.get_xlabel() == "epoch"
    finally:
        plt.close(ax.figure)
