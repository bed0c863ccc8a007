// Building the page from data: text always goes in as text, never as HTML, so a model name or an
// error message cannot inject markup.

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name in node && name !== "list") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat(Infinity).filter((child) => child !== null && child !== undefined));
  return node;
}

export function number(value, digits = 4) {
  if (value === null || value === undefined) return "–";
  if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e5)) {
    return value.toExponential(2);
  }
  return Number(value.toPrecision(digits)).toString();
}

// A whole number with thousands separators: 1,000.
export function count(value) {
  return value === null || value === undefined ? "–" : value.toLocaleString("en-US");
}

function cell(value) {
  return typeof value === "number"
    ? el("td", { className: "number" }, number(value))
    : el("td", {}, value ?? "–");
}

export function table(headers, rows) {
  return el(
    "table",
    {},
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        headers.map((name) => el("th", {}, name)),
      ),
    ),
    el(
      "tbody",
      {},
      rows.map((row) =>
        el(
          "tr",
          {},
          row.map((value) => (value instanceof Node ? el("td", {}, value) : cell(value))),
        ),
      ),
    ),
  );
}

export function statusBadge(status) {
  return el("span", { className: `status ${status}`, dataset: { status } }, status);
}

export function errorBox(error) {
  const where = error.field ? ` (${error.field})` : "";
  return el("p", { className: "error", role: "alert" }, `${error.message}${where}`);
}

// Show `error` in `slot`, unless it only says that the view closed (its requests aborted).
export function showError(slot, error) {
  if (error.name !== "AbortError") slot.replaceChildren(errorBox(error));
}
