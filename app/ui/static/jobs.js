// The jobs list, and one job's page with its live loss curve.
import { TERMINAL, api, followJob, sleep } from "./api.js";
import { lossChart } from "./charts.js";
import { count, el, errorBox, number, statusBadge, table } from "./dom.js";
import { metricsView } from "./metrics.js";

const LIST_REFRESH_MS = 2000;

// "epoch 58 / 1,000"; an ensemble fits its models one after another: "model 2 of 3 · epoch 58 /
// 1,000"; a search its candidates first: "candidate 2 of 8 · epoch 58 / 1,000". A row written
// before jobs reported per model has no `member`: it is one model.
function progressText(progress) {
  if (!progress) return "–";
  const epoch = `epoch ${count(progress.epoch)} / ${count(progress.epochs)}`;
  const members = progress.members ?? 1;
  const what = progress.stage === "search" ? "candidate" : "model";
  return members > 1 ? `${what} ${progress.member ?? 1} of ${members} · ${epoch}` : epoch;
}

// The fitting model's best epoch, naming the model when there are several.
function bestEpochText(progress) {
  if (!progress) return "–";
  const best = count(progress.best_epoch);
  return (progress.members ?? 1) > 1 ? `${best} (model ${progress.member ?? 1})` : best;
}

function jobRows(jobs) {
  return jobs.map((job) => [
    el("a", { href: `#jobs/${job.id}` }, job.id.slice(0, 8)),
    job.model_name,
    statusBadge(job.status),
    progressText(job.progress),
    job.progress ? job.progress.train_loss : null,
    job.progress ? job.progress.val_loss : null,
    new Date(job.created_at).toLocaleString(),
  ]);
}

export async function showJobs(view, signal) {
  const slot = el("div", { id: "jobs" });
  view.append(el("h2", {}, "Jobs"), el("p", {}, el("a", { href: "#new" }, "Start a job")), slot);
  for (;;) {
    const page = await api("/v1/jobs?limit=50", { signal });
    slot.replaceChildren(
      page.items.length
        ? table(
            ["job", "model", "status", "progress", "train loss", "val loss", "created"],
            jobRows(page.items),
          )
        : el("p", { className: "note" }, "No jobs yet."),
      el("p", { className: "note" }, `${page.total} job(s)`),
    );
    if (page.items.every((job) => TERMINAL.has(job.status))) return;
    await sleep(LIST_REFRESH_MS, signal);
  }
}

function summary(job) {
  const progress = job.progress;
  const facts = [
    ["status", statusBadge(job.status)],
    ["progress", progressText(progress)],
    ["train loss", number(progress?.train_loss ?? null)],
    ["validation loss", number(progress?.val_loss ?? null)],
    ["best epoch", bestEpochText(progress)],
    ["ETA", progress?.eta_seconds != null ? `${Math.round(progress.eta_seconds)} s` : "–"],
    ["device", job.device ?? "–"],
  ];
  if (job.model) {
    facts.push([
      "model",
      el("a", { href: `#models/${job.model.name}` }, `${job.model.name} v${job.model.version}`),
    ]);
  }
  return el(
    "dl",
    {},
    facts.map(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]),
  );
}

export async function showJob(view, signal, jobId) {
  const job = await api(`/v1/jobs/${encodeURIComponent(jobId)}`, { signal });
  const facts = el("div", { id: "job-summary" });
  const figure = el("figure", { id: "loss-chart" });
  const caption = el("figcaption", {}, "Loss by epoch (live while the job runs)");
  const cancel = el(
    "button",
    {
      type: "button",
      onclick: () =>
        api(`/v1/jobs/${jobId}/cancel`, { method: "POST", signal }).catch((error) =>
          cancel.after(errorBox(error)),
        ),
    },
    "Cancel",
  );
  const outcome = el("div", { id: "job-outcome" });
  view.append(
    el("h2", {}, `Job ${job.id.slice(0, 8)} · ${job.model_name}`),
    facts,
    cancel,
    figure,
    caption,
    outcome,
  );
  const chart = lossChart(figure);
  const show = (current) => {
    facts.replaceChildren(summary(current));
    chart.update(current);
    cancel.hidden = TERMINAL.has(current.status);
    if (current.error) outcome.replaceChildren(errorBox({ message: current.error }));
    else if (current.metrics)
      outcome.replaceChildren(el("h3", {}, "Test metrics"), metricsView(current.metrics));
  };
  show(job);
  if (!TERMINAL.has(job.status)) await followJob(job, show, signal);
}
