// The models list, and one model's page: metrics, and a forecast chart with the history it
// continues and its intervals, drawn on load.
import { api } from "./api.js";
import { forecastChart } from "./charts.js";
import { el, errorBox, showError, table } from "./dom.js";
import { metricsView } from "./metrics.js";

const LEVELS = [50, 80, 90, 95, 98, 99]; // the levels the service calibrates (app.ml.intervals)
const MAX_SERIES_CHOICES = 1000;
const MAX_HISTORY_ROWS = 2000; // the most a forecast answers (its `history_rows`)

export async function showModels(view, signal) {
  const models = await api("/v1/models", { signal });
  view.append(
    el("h2", {}, "Models"),
    models.items.length
      ? table(
          ["model", "latest", "versions", "columns"],
          models.items.map((model) => [
            el("a", { href: `#models/${model.name}` }, model.name),
            String(model.latest),
            model.versions.join(", "),
            model.columns.join(", "),
          ]),
        )
      : el("p", { className: "note" }, "No models yet: train one."),
  );
}

// The ids a many-series model can continue, from the dataset it was trained on.
async function seriesIds(version, signal) {
  const datasetId = version.spec?.data?.dataset_id;
  if (!datasetId || (version.metrics?.series_count ?? 1) < 2) return null;
  const page = await api(`/v1/datasets/${datasetId}/series?limit=${MAX_SERIES_CHOICES}`, {
    signal,
  });
  return page.items.map((series) => series.id);
}

function select(name, label, options, chosen) {
  return el(
    "label",
    {},
    `${label} `,
    el(
      "select",
      { name },
      options.map(([value, text]) => el("option", { value, selected: value === chosen }, text)),
    ),
  );
}

// The history and forecast the service answered, for one series (or the only one) and one
// column: on their timestamps where both have them, else by step (0: the last known row).
function drawForecast(figure, answer, column) {
  const part = answer.series ? answer.series[0] : answer;
  const index = answer.columns.indexOf(column);
  const pick = (rows) => rows.map((values) => values[index]);
  const history = pick(part.history || []);
  const seconds = (stamps) => (stamps || []).map((stamp) => Date.parse(stamp) / 1000);
  const times = seconds(part.timestamps);
  const before = seconds(part.history_timestamps);
  const time =
    times.length === answer.horizon &&
    before.length === history.length &&
    [...before, ...times].every(Number.isFinite);
  const steps = (from, count) => Array.from({ length: count }, (_, step) => from + step);
  forecastChart(figure, {
    time,
    history: { x: time ? before : steps(1 - history.length, history.length), values: history },
    forecast: { x: time ? times : steps(1, answer.horizon), values: pick(part.forecast) },
    intervals: part.intervals.map((band) => ({
      level: band.level,
      lower: pick(band.lower),
      upper: pick(band.upper),
    })),
    label: part.id ? `${column} · ${part.id}` : column,
  });
}

// How many rows of history to ask for: the last three seasons, or twice the horizon, whichever
// is longer (the service answers as many as the model kept).
function historyRows(version, horizon) {
  const season = version.metrics?.season_length || 1;
  return Math.min(Math.max(3 * season, 2 * horizon, 24), MAX_HISTORY_ROWS);
}

// The forecast form, its message slot, and `draw()`: asks for the form's forecast and draws
// it, unless a later request was made meanwhile (the page draws on load and on every change).
function forecastForm(name, version, ids, figure, signal) {
  const message = el("div");
  const form = el(
    "form",
    { className: "inline", id: "forecast-form" },
    ids
      ? select(
          "series",
          "series",
          ids.map((id) => [id, id]),
          ids[0],
        )
      : null,
    version.columns.length > 1
      ? select(
          "column",
          "column",
          version.columns.map((c) => [c, c]),
          version.columns[0],
        )
      : null,
    el(
      "label",
      {},
      "horizon ",
      el("input", {
        name: "horizon",
        type: "number",
        min: 1,
        value: Math.max(version.horizon || 1, 24),
        required: true,
      }),
    ),
    select(
      "level",
      "interval",
      [["", "none"], ...LEVELS.map((level) => [String(level), `${level}%`])],
      "80",
    ),
    el("button", { type: "submit" }, "Forecast"),
  );
  let latest = 0; // the number of the last request made
  async function draw() {
    const fields = new FormData(form);
    const horizon = Number(fields.get("horizon"));
    const body = { horizon, version: version.version, history_rows: historyRows(version, horizon) };
    if (fields.get("level")) body.levels = [Number(fields.get("level"))];
    if (ids) body.series = [fields.get("series")];
    const mine = ++latest;
    message.replaceChildren();
    try {
      const answer = await api(`/v1/models/${name}/forecast`, {
        method: "POST",
        json: body,
        signal,
      });
      if (mine === latest) drawForecast(figure, answer, fields.get("column") || version.columns[0]);
    } catch (error) {
      if (mine === latest) showError(message, error);
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    draw();
  });
  form.addEventListener("change", (event) => {
    if (event.target.tagName === "SELECT" && form.checkValidity()) draw();
  });
  return { form, message, draw };
}

// One version's facts, metrics and forecast form, in `slot`.
async function showVersion(slot, model, number, signal) {
  const version = model.versions.find((v) => v.version === number);
  slot.replaceChildren();
  if (!version.readable) {
    slot.append(errorBox({ message: version.error || `version ${number} cannot be read` }));
    return;
  }
  const job = version.job_id
    ? el("a", { href: `#jobs/${version.job_id}` }, version.job_id.slice(0, 8))
    : "none (bundled)";
  const figure = el("figure", { id: "forecast-chart" });
  const ids = await seriesIds(version, signal);
  const forecast = forecastForm(model.name, version, ids, figure, signal);
  slot.append(
    el(
      "p",
      { className: "note" },
      `Columns ${version.columns.join(", ")}; lookback ${version.lookback}; trained by job `,
      job,
    ),
    el("h3", {}, "Test metrics"),
    version.metrics
      ? metricsView(version.metrics)
      : el("p", { className: "note" }, "No metrics recorded."),
    el("h3", {}, "Forecast"),
    forecast.form,
    forecast.message,
    figure,
  );
  forecast.draw(); // the default forecast, drawn on load
}

export async function showModel(view, signal, name) {
  const model = await api(`/v1/models/${encodeURIComponent(name)}`, { signal });
  const slot = el("div", { id: "version" });
  const versions = model.versions.map((v) => [String(v.version), `version ${v.version}`]);
  const picker = select("version", "", versions, String(model.latest));
  picker.addEventListener("change", (event) =>
    showVersion(slot, model, Number(event.target.value), signal).catch((error) =>
      showError(slot, error),
    ),
  );
  view.append(el("h2", {}, model.name), picker, slot);
  await showVersion(slot, model, model.latest, signal);
}
