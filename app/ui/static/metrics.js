// A version's test metrics: the model beside the naive baselines on the same rows.
import { el, number, table } from "./dom.js";

const COLUMNS = ["forecast", "RMSE", "MAE", "MASE", "sMAPE %"];

function row(name, scores) {
  if (!scores) return null;
  return [name, scores.rmse, scores.mae, scores.mase ?? null, scores.smape ?? null];
}

function scoreRows(metrics) {
  if ("mean" in metrics) {
    // a model of many series: means over the series, each on its own scale
    return [
      row(`model (mean of ${metrics.series_measured} series)`, metrics.mean),
      row("naive", metrics.naive),
      row(`seasonal naive (season ${metrics.season_length})`, metrics.seasonal_naive),
    ];
  }
  return [
    row("model, one step", metrics.one_step),
    row("naive, one step", metrics.naive_one_step),
    row(`model, rollout of ${metrics.rollout_steps} steps`, metrics.rollout),
    row("naive, rollout", metrics.naive_rollout),
    row(
      `seasonal naive, rollout (season ${metrics.season_length})`,
      metrics.seasonal_naive_rollout,
    ),
  ];
}

function coverage(intervals) {
  if (!intervals) return null;
  const levels = Object.entries(intervals.coverage)
    .map(([level, percent]) => `${level}%: ${number(percent, 3)}% inside`)
    .join(", ");
  return el(
    "p",
    { className: "note" },
    `Interval coverage on the test split (${intervals.test_steps} steps): ${levels}`,
  );
}

export function metricsView(metrics) {
  const fit =
    `Best epoch ${metrics.best_epoch} of ${metrics.epochs_run} (${metrics.stop_reason}), ` +
    `${number(metrics.train_seconds, 3)} s of training, ${metrics.test_rows} test rows.`;
  return el(
    "div",
    { className: "metrics" },
    table(COLUMNS, scoreRows(metrics).filter(Boolean)),
    el("p", { className: "note" }, "MASE below 1 beats the naive forecast (last value repeated)."),
    metrics.warnings.map((warning) => el("p", { className: "error" }, warning)),
    coverage(metrics.intervals),
    el("p", { className: "note" }, fit),
  );
}
