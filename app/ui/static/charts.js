// The two charts, drawn with the vendored uPlot (a global from vendor/uPlot.iife.min.js).
/* global uPlot */
import { number } from "./dom.js";

const HEIGHT = 320;
const BANDS = ["rgba(37, 99, 235, 0.12)", "rgba(37, 99, 235, 0.22)"]; // widest level palest
const WHOLE_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]; // epochs, steps
const tickLabels = (plot, ticks) => ticks.map((tick) => (tick === null ? "" : number(tick, 3)));

function width(container) {
  return Math.max(320, Math.min(container.clientWidth || 900, 1060));
}

// Train and validation loss by epoch, on a log scale (losses fall by orders of magnitude).
// `update(job)` redraws from the job's history and its latest progress.
export function lossChart(container) {
  const plot = new uPlot(
    {
      width: width(container),
      height: HEIGHT,
      scales: { x: { time: false }, y: { distr: 3 } },
      axes: [
        { label: "epoch", incrs: WHOLE_STEPS },
        { label: "loss (model scale)", size: 70, values: tickLabels },
      ],
      series: [
        { label: "epoch" },
        { label: "train loss", stroke: "#2563eb", width: 2 },
        { label: "validation loss", stroke: "#ea580c", width: 2 },
      ],
    },
    [[], [], []],
    container,
  );
  return {
    update(job) {
      const epochs = new Map(job.history.map((row) => [row.epoch, row]));
      const progress = job.progress;
      if (progress && progress.epoch > 0 && !epochs.has(progress.epoch)) {
        epochs.set(progress.epoch, progress); // the newest epoch, before the history has it
      }
      const rows = [...epochs.values()].sort((a, b) => a.epoch - b.epoch);
      plot.setData([
        rows.map((row) => row.epoch),
        rows.map((row) => row.train_loss),
        rows.map((row) => row.val_loss),
      ]);
      container.dataset.points = String(rows.length);
    },
  };
}

// A forecast with its prediction intervals as shaded bands. `x` is seconds since the epoch when
// `time` (the series has timestamps), else the step number.
export function forecastChart(container, { x, time, values, intervals, label }) {
  const series = [{ label: time ? "time" : "step" }, { label, stroke: "#1d4ed8", width: 2 }];
  const data = [x, values];
  const bands = [];
  const widestFirst = [...intervals].sort((a, b) => b.level - a.level);
  widestFirst.forEach((interval, index) => {
    const stroke = "rgba(37, 99, 235, 0.5)";
    series.push({ label: `upper ${interval.level}%`, stroke, width: 1 });
    series.push({ label: `lower ${interval.level}%`, stroke, width: 1 });
    data.push(interval.upper, interval.lower);
    bands.push({ series: [data.length - 2, data.length - 1], fill: BANDS[index % BANDS.length] });
  });
  container.replaceChildren();
  new uPlot(
    {
      width: width(container),
      height: HEIGHT,
      scales: { x: { time } },
      axes: [time ? {} : { incrs: WHOLE_STEPS }, { size: 70, values: tickLabels }],
      series,
      bands,
    },
    data,
    container,
  );
  container.dataset.points = String(x.length);
  container.dataset.intervals = String(intervals.length);
}
