"""A progress bar for a training job: epochs done of planned, losses, and the ETA (tqdm's
`auto` bar: a widget in a notebook, text on a terminal's standard error)."""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm


def _loss(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, int | float) else "-"


class JobProgress:
    """Shows the job views it is given; `close()` when the job has finished."""

    def __init__(self, job_id: str, enabled: bool = True) -> None:
        self._bar: tqdm[Any] = tqdm(
            total=None, desc=f"job {job_id[:8]}", unit="epoch", disable=not enabled, leave=True
        )

    def show(self, view: dict[str, Any]) -> None:
        """Move the bar to the job's epoch; losses and status beside it."""
        progress = view.get("progress") or {}
        if progress.get("epochs"):
            self._bar.total = progress["epochs"]
        epoch = int(progress.get("epoch") or 0)
        if epoch > self._bar.n:
            self._bar.update(epoch - self._bar.n)
        self._bar.set_postfix_str(
            f"{view['status']} train={_loss(progress.get('train_loss'))} "
            f"val={_loss(progress.get('val_loss'))} best={_loss(progress.get('best_val_loss'))}",
            refresh=True,
        )

    def close(self) -> None:
        """Leave the bar as it ended."""
        self._bar.close()
