// The two charts, drawn with the vendored uPlot (a global from vendor/uPlot.iife.min.js).
/* global uPlot */
import { number } from "./dom.js";

const HEIGHT = 320;
const BANDS = ["rgba(37, 99, 235, 0.12)", "rgba(37, 99, 235, 0.22)"]; // widest level palest
const WHOLE_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]; // epochs, steps
const tickLabels = (plot, ticks) => ticks.map((tick) => (tick === null ? "" : number(tick, 3)));
const lossValue = (plot, value) => number(value); // uPlot's default rounds 1e-5 to 0

function width(container) {
  return Math.max(320, Math.min(container.clientWidth || 900, 1060));
}

// The loss history's rows in order, one per epoch of each model, each with `x`: the epochs run
// so far over every model (an ensemble fits its models one after another, each from epoch 1).
// The latest progress joins them before the history has its epoch. A row written before jobs
// reported per model has no `member`: it is model 1.
function lossRows(job) {
  const rows = new Map();
  const add = (row) => rows.set(`${row.member ?? 1}:${row.epoch}`, row);
  job.history.forEach(add);
  const progress = job.progress;
  if (progress && progress.epoch > 0 && !rows.has(`${progress.member ?? 1}:${progress.epoch}`)) {
    add(progress);
  }
  const member = (row) => row.member ?? 1;
  const ordered = [...rows.values()].sort((a, b) => member(a) - member(b) || a.epoch - b.epoch);
  let before = 0; // epochs run by the models before this row's
  return ordered.map((row, index) => {
    const previous = ordered[index - 1];
    if (previous && member(previous) !== member(row)) before += previous.epoch;
    return { ...row, member: member(row), x: before + row.epoch };
  });
}

// Columns for uPlot: between two models a row of nulls, so that no line joins them.
function lossColumns(rows) {
  const columns = [[], [], []];
  rows.forEach((row, index) => {
    if (index > 0 && rows[index - 1].member !== row.member) {
      columns[0].push(row.x - 0.5);
      columns[1].push(null);
      columns[2].push(null);
    }
    columns[0].push(row.x);
    columns[1].push(row.train_loss);
    columns[2].push(row.val_loss);
  });
  return columns;
}

// On `plot`'s canvas: a dashed line where each model after the first starts, each model named.
function drawModelStarts(plot, starts) {
  if (starts.length < 2) return;
  const { ctx, bbox } = plot;
  const ratio = window.devicePixelRatio || 1; // the canvas counts device pixels
  ctx.save();
  ctx.strokeStyle = "#9ca3af";
  ctx.fillStyle = "#4b5563";
  ctx.lineWidth = ratio;
  ctx.setLineDash([4 * ratio, 4 * ratio]);
  ctx.font = `${12 * ratio}px system-ui, sans-serif`;
  ctx.textAlign = "left";
  ctx.textBaseline = "top";
  for (const { member, x } of starts) {
    const left = Math.max(Math.round(plot.valToPos(x - 0.5, "x", true)), bbox.left);
    if (member > 1) {
      ctx.beginPath();
      ctx.moveTo(left, bbox.top);
      ctx.lineTo(left, bbox.top + bbox.height);
      ctx.stroke();
    }
    ctx.fillText(`model ${member}`, left + 4 * ratio, bbox.top + 4 * ratio);
  }
  ctx.restore();
}

// Train and validation loss by epoch, on a log scale (losses fall by orders of magnitude). The
// models of an ensemble run one after another along x, each model's start marked.
// `update(job)` redraws from the job's history and its latest progress.
export function lossChart(container) {
  let rows = [];
  let starts = []; // the first row of each model
  const several = () => starts.length > 1;
  const describe = (x) => {
    const row = rows.find((candidate) => candidate.x === x);
    if (!row) return "–";
    return several() ? `model ${row.member}, epoch ${row.epoch}` : String(row.epoch);
  };
  const plot = new uPlot(
    {
      width: width(container),
      height: HEIGHT,
      scales: { x: { time: false }, y: { distr: 3 } },
      axes: [
        {
          label: () => (several() ? "epochs run, model after model" : "epoch"),
          incrs: WHOLE_STEPS,
        },
        { label: "loss (model scale)", size: 70, values: tickLabels },
      ],
      series: [
        { label: "epoch", value: (u, x) => describe(x) },
        { label: "train loss", stroke: "#2563eb", width: 2, value: lossValue },
        { label: "validation loss", stroke: "#ea580c", width: 2, value: lossValue },
      ],
      hooks: { draw: [(u) => drawModelStarts(u, starts)] },
    },
    [[], [], []],
    container,
  );
  return {
    update(job) {
      rows = lossRows(job);
      starts = rows.filter((row, index) => index === 0 || rows[index - 1].member !== row.member);
      plot.setData(lossColumns(rows));
      container.dataset.points = String(rows.length);
      container.dataset.models = String(starts.length);
    },
  };
}

// On `plot`'s canvas: a dashed line at `x`, where the history ends and the forecast begins.
function drawForecastStart(plot, x) {
  if (x === null) return;
  const { ctx, bbox } = plot;
  const ratio = window.devicePixelRatio || 1; // the canvas counts device pixels
  const left = Math.round(plot.valToPos(x, "x", true));
  ctx.save();
  ctx.strokeStyle = "#9ca3af";
  ctx.lineWidth = ratio;
  ctx.setLineDash([4 * ratio, 4 * ratio]);
  ctx.beginPath();
  ctx.moveTo(left, bbox.top);
  ctx.lineTo(left, bbox.top + bbox.height);
  ctx.stroke();
  ctx.restore();
}

// A forecast after the history it continues, with its prediction intervals as shaded bands.
// `history` and `forecast` each hold `x` (seconds since the epoch when `time`: the series has
// timestamps; else the step, 0 the last known row) and `values`; the forecast's line and bands
// start from the last row of the history, so that they read as its continuation.
export function forecastChart(container, { time, history, forecast, intervals, label }) {
  const known = history.values.length;
  const last = known ? [history.values[known - 1]] : [];
  const gap = (rows) => Array(rows).fill(null);
  const before = gap(Math.max(known - 1, 0)); // the forecast's columns along the history
  const series = [
    { label: time ? "time" : "step" },
    { label: "history", stroke: "#374151", width: 1.5 },
    { label, stroke: "#1d4ed8", width: 2 },
  ];
  const data = [
    [...history.x, ...forecast.x],
    [...history.values, ...gap(forecast.values.length)],
    [...before, ...last, ...forecast.values],
  ];
  const bands = [];
  const widestFirst = [...intervals].sort((a, b) => b.level - a.level);
  widestFirst.forEach((interval, index) => {
    const stroke = "rgba(37, 99, 235, 0.5)";
    series.push({ label: `upper ${interval.level}%`, stroke, width: 1 });
    series.push({ label: `lower ${interval.level}%`, stroke, width: 1 });
    data.push([...before, ...last, ...interval.upper], [...before, ...last, ...interval.lower]);
    bands.push({ series: [data.length - 2, data.length - 1], fill: BANDS[index % BANDS.length] });
  });
  const start = known ? history.x[known - 1] : null;
  container.replaceChildren();
  new uPlot(
    {
      width: width(container),
      height: HEIGHT,
      scales: { x: { time } },
      axes: [time ? {} : { incrs: WHOLE_STEPS }, { size: 70, values: tickLabels }],
      series,
      bands,
      hooks: { draw: [(u) => drawForecastStart(u, start)] },
    },
    data,
    container,
  );
  container.dataset.points = String(forecast.values.length);
  container.dataset.history = String(known);
  container.dataset.intervals = String(intervals.length);
}
