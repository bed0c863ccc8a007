"""The job table `job` and `jobs` print: where each job is, in the dashboard's words, from
views of today's service and of one that wrote its rows before jobs reported per model."""

from __future__ import annotations

from typing import Any

from forecast_client.commands import JOB_HEADER, _job_line, _table


def view(status: str, progress: dict[str, Any] | None) -> dict[str, Any]:
    """A job's view as GET /v1/jobs/{id} answers it (the fields the table reads)."""
    return {"id": "8d96f30e", "model_name": "sales", "status": status, "progress": progress}


def test_the_table_says_which_model_of_an_ensemble_fits() -> None:
    running = view(
        "running",
        {"member": 2, "members": 3, "epoch": 58, "epochs": 1000, "val_loss": 0.012345},
    )
    table = _table([_job_line(running)], JOB_HEADER).splitlines()
    assert table[0].split() == ["id", "model", "status", "progress", "val_loss", "produced"]
    assert table[1].split("  ")[:4] == [
        "8d96f30e",
        "sales",
        "running",
        "model 2 of 3 · epoch 58 / 1,000",
    ]
    assert table[1].split()[-2:] == ["0.01235", "-"]


def test_a_row_without_member_is_one_model_and_a_queued_job_has_no_progress() -> None:
    old = view("succeeded", {"epoch": 11, "epochs": 100, "val_loss": None})
    queued = view("queued", None)
    rows = [_job_line(old), _job_line(queued)]
    assert [row[3:5] for row in rows] == [["epoch 11 / 100", "-"], ["-", "-"]]
