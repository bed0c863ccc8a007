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

// Read GET /v1/jobs/{id}/events with fetch (EventSource cannot send the key); calls `onJob`
// with each job it carries. Returns the last job, or throws if the stream cannot be had.
async function streamJob(jobId, onJob, signal) {
  const response = await fetch(`/v1/jobs/${encodeURIComponent(jobId)}/events`, {
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
        last = JSON.parse(parsed.data);
        onJob(last);
        if (parsed.event === "end") {
          await reader.cancel();
          return last;
        }
      }
    }
  }
}

async function pollJob(jobId, onJob, signal) {
  for (;;) {
    const job = await api(`/v1/jobs/${encodeURIComponent(jobId)}`, { signal });
    onJob(job);
    if (TERMINAL.has(job.status)) return job;
    await sleep(POLL_MS, signal);
  }
}

// Follow a job until it ends: its event stream first; polling if the stream fails (an older
// service without it, a proxy that buffers) or stops before the end.
export async function followJob(jobId, onJob, signal) {
  try {
    const last = await streamJob(jobId, onJob, signal);
    if (last && TERMINAL.has(last.status)) return last;
  } catch (error) {
    if (signal.aborted) throw error;
  }
  return pollJob(jobId, onJob, signal);
}
