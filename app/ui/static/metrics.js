// A version's test metrics: the model beside the naive baselines on the same rows, and how each
// model was fitted.
import { count, el, number, table } from "./dom.js";

const COLUMNS = ["forecast", "RMSE", "MAE", "MASE", "sMAPE %"];

function row(name, scores) {
  if (!scores) return null;
  return [name, scores.rmse, scores.mae, scores.mase ?? null, scores.smape ?? null];
}

function oneSeriesRows(metrics) {
  return [
    row("model, one step", metrics.one_step),
    row("naive, one step", metrics.naive_one_step),
    row(`model, rollout of ${metrics.rollout_steps} steps`, metrics.rollout ?? metrics.mean),
    row("naive, rollout", metrics.naive_rollout ?? metrics.naive),
    row(
      `seasonal naive, rollout (season ${metrics.season_length})`,
      metrics.seasonal_naive_rollout ?? metrics.seasonal_naive,
    ),
    row("drift, rollout", metrics.drift),
    servedRow(metrics.combination),
  ];
}

// A model of many series: means over the series, each scored on its own scale.
function manySeriesRows(metrics) {
  const measured = metrics.series_measured ?? metrics.series_count;
  const of = measured < metrics.series_count ? ` of ${metrics.series_count}` : "";
  const means = `mean of ${measured}${of} series`;
  return [
    row(`model, one step (${means})`, metrics.one_step),
    row("naive, one step", metrics.naive_one_step),
    row(`model, rollout (${means})`, metrics.mean),
    row("naive, rollout", metrics.naive),
    row(`seasonal naive, rollout (season ${metrics.season_length})`, metrics.seasonal_naive),
    row("drift, rollout", metrics.drift),
    servedRow(metrics.combination),
  ];
}

// The forecasts as served where some series are the mean of the model's and their drift's.
function servedRow(combination) {
  if (!combination || !combination.series_count) return null;
  return row(`served (${count(combination.series_count)} combined with drift)`, combination.served);
}

// Which series lose to each simple forecast on each held-out part, and which are combined.
function guardsView(metrics) {
  const guards = metrics.guards;
  if (!guards) return null;
  const splits = ["validation", "test"].filter((split) => guards[split]);
  const lines = splits.map((split) => {
    const { losing, series_measured: measured } = guards[split];
    const counts = Object.entries(losing)
      .map(([baseline, found]) => `${baseline.replace("_", " ")} ${count(found.count)}`)
      .join(", ");
    return `${split} part, of ${count(measured)}: ${counts}`;
  });
  const combination = metrics.combination;
  let combined = null;
  if (combination?.series_count) {
    const more = combination.series_count > combination.series.length ? ", ..." : "";
    const named = `${combination.series.join(", ")}${more}`;
    combined = `Combined with their drift forecast: ${count(combination.series_count)} (${named}).`;
  }
  return el(
    "div",
    { className: "note guards" },
    el("p", {}, `Series losing to each simple forecast: ${lines.join("; ")}.`),
    combined && el("p", {}, combined),
  );
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

// How the fit went: "Best epoch 32 of 80 (early_stopping), ..." for one model (and for records
// written before each model's fit was recorded, which have no `members`); for an ensemble one
// line per model, "model 1 (seed 0): best epoch 32 of 80, early_stopping".
function fitView(metrics) {
  const members = metrics.members ?? [];
  const seconds = number(metrics.train_seconds, 3);
  const spent = `${seconds} s of training, ${count(metrics.test_rows)} test rows.`;
  if (members.length < 2) {
    const best = `Best epoch ${count(metrics.best_epoch)} of ${count(metrics.epochs_run)}`;
    return el("p", { className: "note fit" }, `${best} (${metrics.stop_reason}), ${spent}`);
  }
  const lookbacks = new Set(members.map((member) => member.lookback));
  const lines = members.map((member, index) => {
    const lookback = lookbacks.size > 1 ? `, lookback ${member.lookback}` : "";
    return (
      `model ${index + 1} (seed ${member.seed}${lookback}): best epoch ` +
      `${count(member.best_epoch)} of ${count(member.epochs_run)}, ${member.stop_reason}`
    );
  });
  return el(
    "div",
    { className: "note fit" },
    el("p", {}, `${members.length} models, fitted one after another: ${spent}`),
    el("ul", {}, lines.map((line) => el("li", {}, line))),
  );
}

// The configuration search: one row per candidate tried, the winner marked.
function searchView(search) {
  if (!search) return null;
  const rows = search.trials.map((trial) => [
    trial.trial === search.winner
      ? `${trial.trial} (winner)`
      : `${trial.trial}${search.joined?.includes(trial.trial) ? " (member)" : ""}`,
    count(trial.lookback),
    trial.cell,
    trial.loss,
    trial.deseasonalise ? "yes" : "no",
    trial.score === null ? `failed: ${trial.error}` : number(trial.score, 4),
    trial.smape,
    trial.mase,
    `${count(trial.best_epoch)} of ${count(trial.epochs_run)}`,
    number(trial.seconds, 3),
  ]);
  const origins = `${search.origins} origin(s) of ${search.steps} step(s) in each validation part`;
  return el(
    "div",
    { className: "search" },
    el(
      "h4",
      {},
      `Configurations tried (${number(search.seconds, 3)} s` +
        (search.stop_reason ? `, stopped by ${search.stop_reason})` : ")"),
    ),
    table(
      ["trial", "lookback", "cell", "loss", "deseasonalised", "score", "sMAPE", "MASE",
        "best epoch", "seconds"],
      rows,
    ),
    el(
      "p",
      { className: "note" },
      `Scored on ${origins}: ${search.score}. Ensemble lookbacks: ` +
        search.ensemble_lookbacks.join(", "),
    ),
  );
}

export function metricsView(metrics) {
  const many = (metrics.series_count ?? 1) > 1;
  return el(
    "div",
    { className: "metrics" },
    table(COLUMNS, (many ? manySeriesRows(metrics) : oneSeriesRows(metrics)).filter(Boolean)),
    el("p", { className: "note" }, "MASE below 1 beats the naive forecast (last value repeated)."),
    metrics.warnings.map((warning) => el("p", { className: "error" }, warning)),
    guardsView(metrics),
    coverage(metrics.intervals),
    searchView(metrics.search),
    fitView(metrics),
  );
}
