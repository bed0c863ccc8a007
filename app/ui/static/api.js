// Every data call the dashboard makes: the API key, the service's errors in words, and live
// job updates (the job's event stream, or polling where the stream is not available).

const KEY = "forecast-api-key"; // in sessionStorage: gone when the browser tab closes
const POLL_MS = 1000;
export const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

export function apiKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    Object.assign(this, { status, code, field });
  }
}

function headers(extra = {}) {
  const result = new Headers(extra);
  const key = apiKey();
  if (key) result.set("Authorization", `Bearer ${key}`);
  return result;
}

// The service answers {"error": {"code", "message", "field"}}; anything else (a proxy's page)
// is described by its status.
async function failure(response) {
  let error = {};
  try {
    error = (await response.json()).error || {};
  } catch {
    // not JSON: keep the status line
  }
  let message = error.message || `${response.status} ${response.statusText}`;
  if (response.status === 401) {
    message = `Not authorised: ${message}. Enter the service's API key at the top of the page.`;
  }
  return new ApiError(response.status, error.code || "http_error", message, error.field || null);
}

export async function api(path, { method = "GET", json, form, signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (json !== undefined) {
    init.headers.set("Content-Type", "application/json");
    init.body = JSON.stringify(json);
  }
  if (form !== undefined) init.body = form; // the browser writes the multipart boundary
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? null : response.json();
}

// Wait `ms`; rejects with an AbortError at once when the view closes.
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(new DOMException("view closed", "AbortError"));
      },
      { once: true },
    );
  });
}

// One Server-Sent Event block ("event: x\ndata: {...}\nid: 3") as {event, data}; null for a
// block of comments only (the keep-alive ": ping").
function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: data.join("\n") } : null;
}

const jobPath = (jobId) => `/v1/jobs/${encodeURIComponent(jobId)}`;

// Epochs `start` to `stop` of a job's loss history, a page at a time.
async function historyBetween(jobId, start, stop, signal) {
  const epochs = [];
  while (start + epochs.length < stop) {
    const offset = start + epochs.length;
    const limit = stop - offset; // the service answers a page of it (at most 10,000 epochs)
    const page = await api(`${jobPath(jobId)}/history?offset=${offset}&limit=${limit}`, { signal });
    if (!page.items.length) break; // shorter than asked: the job started again meanwhile
    epochs.push(...page.items);
  }
  return epochs.slice(0, stop - start);
}

// The job view `job` with a change taken in: an event (the job as listed, and the epochs added
// since the previous event at `new_epochs_offset`), or a view without its history placed at its
// end. The epochs the page lacks before the change are read once; an offset below the epochs
// held, or another attempt, means the job runs again and its history restarts there.
async function applyChange(job, change, signal) {
  let history = change.attempts === job.attempts ? job.history : [];
  const offset = change.new_epochs_offset;
  if (offset > history.length) {
    history = history.concat(await historyBetween(job.id, history.length, offset, signal));
  }
  history = history.slice(0, offset).concat(change.new_epochs);
  const fields = { ...change };
  for (const name of ["new_epochs", "new_epochs_offset", "history"]) delete fields[name];
  return { ...job, ...fields, history };
}

// Read GET /v1/jobs/{id}/events with fetch (EventSource cannot send the key); calls `onJob` with
// the job view after each event. Returns the last view, or throws if the stream cannot be had.
async function streamJob(job, onJob, signal) {
  const response = await fetch(`${jobPath(job.id)}/events`, {
    headers: headers({ Accept: "text/event-stream" }),
    signal,
  });
  const type = response.headers.get("content-type") || "";
  if (!response.ok || !type.startsWith("text/event-stream")) {
    throw await failure(response);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let last = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return last;
    // Lines may end in \r\n, \n or \r; a \r that ends a chunk waits for a \n that may follow.
    buffer = (buffer + value).replace(/\r\n|\r(?!$)/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const parsed = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (parsed && (parsed.event === "progress" || parsed.event === "end")) {
        job = await applyChange(job, JSON.parse(parsed.data), signal);
        last = job;
        onJob(job);
        if (parsed.event === "end") {
          await reader.cancel();
          return last;
        }
      }
    }
  }
}

// Poll the job's view without its history, reading only the epochs added since.
async function pollJob(job, onJob, signal) {
  for (;;) {
    const view = await api(`${jobPath(job.id)}?history=false`, { signal });
    const change = { ...view, new_epochs: [], new_epochs_offset: view.history_length };
    job = await applyChange(job, change, signal);
    onJob(job);
    if (TERMINAL.has(job.status)) return job;
    await sleep(POLL_MS, signal);
  }
}

// Follow a job until it ends, from the view the page holds: its event stream first; polling if
// the stream fails (an older service without it, a proxy that buffers, too many streams open) or
// stops before the end.
export async function followJob(job, onJob, signal) {
  let latest = job;
  const track = (view) => {
    latest = view;
    onJob(view);
  };
  try {
    const last = await streamJob(job, track, signal);
    if (last && TERMINAL.has(last.status)) return last;
  } catch (error) {
    if (signal.aborted) throw error;
  }
  return pollJob(latest, onJob, signal);
}
