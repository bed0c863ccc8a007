"""A progress bar for a training job: epochs done of planned over every model of an ensemble,
losses, and the ETA (tqdm's `auto` bar: a widget in a notebook, text on a terminal's standard
error); and the words that say where a job is."""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm


def _loss(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, int | float) else "-"


def _models(progress: dict[str, Any]) -> tuple[int, int]:
    """(the fitting model, the models): a view written before jobs reported per model is 1 of 1."""
    return int(progress.get("member") or 1), int(progress.get("members") or 1)


def _what(progress: dict[str, Any]) -> str:
    """What is fitting: a candidate configuration of a search, or a model of the job's."""
    return "candidate" if progress.get("stage") == "search" else "model"


def progress_text(progress: dict[str, Any] | None) -> str:
    """Where a job is, as the dashboard says it: "epoch 58 / 1,000" for one model, "model 2 of
    3 · epoch 58 / 1,000" for an ensemble (its models fit one after another), "candidate 2 of
    8 · ..." while a search fits its candidates first; "-" before any."""
    if not progress:
        return "-"
    epoch = f"epoch {int(progress['epoch']):,} / {int(progress['epochs']):,}"
    member, members = _models(progress)
    return f"{_what(progress)} {member} of {members} · {epoch}" if members > 1 else epoch


class JobProgress:
    """Shows the job views it is given; `close()` when the job has finished."""

    def __init__(self, job_id: str, enabled: bool = True) -> None:
        self._name = f"job {job_id[:8]}"
        self._bar: tqdm[Any] = tqdm(
            total=None, desc=self._name, unit="epoch", disable=not enabled, leave=True
        )
        self._stage: str | None = None

    def show(self, view: dict[str, Any]) -> None:
        """Move the bar to the epochs done over every model (each model counts `epochs`, as the
        job's `fraction` does); which model beside the name, losses and status after the bar."""
        progress = view.get("progress") or {}
        stage = progress.get("stage")
        if stage != self._stage:  # a search's candidates, then the model: a bar each
            self._stage = stage
            self._bar.reset()
        member, members = _models(progress)
        epochs = int(progress.get("epochs") or 0)
        if epochs:
            self._bar.total = members * epochs
        done = (member - 1) * epochs + int(progress.get("epoch") or 0)
        if done > self._bar.n:
            self._bar.update(done - self._bar.n)
        if members > 1:
            what = f"{_what(progress)} {member} of {members}"
            self._bar.set_description_str(f"{self._name} · {what}", False)
        self._bar.set_postfix_str(
            f"{view['status']} train={_loss(progress.get('train_loss'))} "
            f"val={_loss(progress.get('val_loss'))} best={_loss(progress.get('best_val_loss'))}",
            refresh=True,
        )

    def close(self) -> None:
        """Leave the bar as it ended."""
        self._bar.close()
