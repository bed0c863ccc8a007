// Upload a CSV, and start a training job on a built-in function or an uploaded dataset.
import { api } from "./api.js";
import { el, showError } from "./dom.js";

function field(label, input) {
  return [el("label", { htmlFor: input.id }, label), input];
}

function input(id, props = {}) {
  return el("input", { id, name: id, ...props });
}

function uploadForm(onStored, signal) {
  const result = el("div", { id: "upload-result" });
  const form = el(
    "form",
    { className: "panel", id: "upload-form" },
    field("CSV file", input("file", { type: "file", accept: ".csv,text/csv", required: true })),
    field("name", input("name", { maxLength: 128 })),
    field("time column", input("time_column", { placeholder: "default: time, date, ds, ..." })),
    field("series id column", input("id_column", { placeholder: "default: unique_id, id, ..." })),
    field("frequency", input("freq", { placeholder: "default: inferred" })),
    el("button", { type: "submit" }, "Upload"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = new FormData();
    for (const [name, value] of new FormData(form)) {
      if (value !== "") body.append(name, value); // empty optional fields keep the defaults
    }
    try {
      const dataset = await api("/v1/datasets", { method: "POST", form: body, signal });
      result.replaceChildren(
        el(
          "p",
          {},
          `Stored dataset ${dataset.id}: ${dataset.length} rows, ` +
            `${dataset.series_count} series, columns ${dataset.columns.join(", ")}.`,
        ),
      );
      await onStored(dataset.id);
    } catch (error) {
      showError(result, error);
    }
  });
  return [form, result];
}

// The chosen function's parameters, defaults filled in, bounds from the catalogue.
function parameterInputs(spec) {
  return spec.parameters.map((param) =>
    field(
      param.name,
      input(`param-${param.name}`, {
        type: "number",
        value: param.default,
        min: param.minimum ?? undefined,
        max: param.maximum ?? undefined,
        step: param.type === "int" ? 1 : "any",
        title: param.description,
        dataset: { param: param.name, kind: param.type },
      }),
    ),
  );
}

function sourceSelect(functions, datasets, chosenDataset) {
  const options = [
    ...functions.map((spec) =>
      el("option", { value: `function:${spec.name}` }, `function ${spec.name}`),
    ),
    ...datasets.map((dataset) =>
      el(
        "option",
        {
          value: `dataset:${dataset.id}`,
          selected: dataset.id === chosenDataset,
        },
        `dataset ${dataset.name || dataset.id.slice(0, 8)} (${dataset.length} rows)`,
      ),
    ),
  ];
  return el("select", { id: "source", name: "source" }, options);
}

function requestFrom(form) {
  const fields = new FormData(form);
  const [kind, value] = fields.get("source").split(":");
  const data = kind === "function" ? { function: value, params: {} } : { dataset_id: value };
  for (const param of form.querySelectorAll("[data-param]")) {
    if (param.value !== "") data.params[param.dataset.param] = Number(param.value);
  }
  const request = {
    model_name: fields.get("model_name"),
    data,
    training: { epochs: Number(fields.get("epochs")) },
  };
  if (fields.get("lookback")) request.window = { lookback: Number(fields.get("lookback")) };
  return request;
}

async function trainForm(view, signal, chosenDataset) {
  const [functions, datasets] = await Promise.all([
    api("/v1/functions", { signal }),
    api("/v1/datasets?limit=100", { signal }),
  ]);
  const source = sourceSelect(functions, datasets.items, chosenDataset);
  const params = el("div", { className: "params" });
  const showParams = () => {
    const spec = functions.find((f) => `function:${f.name}` === source.value);
    params.replaceChildren(...(spec ? parameterInputs(spec).flat() : []));
  };
  source.addEventListener("change", showParams);
  showParams();
  const result = el("div", { id: "train-result" });
  const form = el(
    "form",
    { className: "panel", id: "train-form" },
    field(
      "model name",
      input("model_name", {
        required: true,
        pattern: "[a-z0-9_\\-]{1,64}",
        placeholder: "lowercase, digits, - and _",
      }),
    ),
    field("train on", source),
    params,
    field(
      "epochs",
      input("epochs", { type: "number", min: 1, max: 5000, value: 20, required: true }),
    ),
    field("lookback", input("lookback", { type: "number", min: 1, placeholder: "default" })),
    el("button", { type: "submit" }, "Start job"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const job = await api("/v1/jobs", { method: "POST", json: requestFrom(form), signal });
      window.location.hash = `#jobs/${job.id}`;
    } catch (error) {
      showError(result, error);
    }
  });
  return [form, result];
}

export async function showNew(view, signal) {
  const trainSlot = el("div");
  const refresh = async (datasetId) =>
    trainSlot.replaceChildren(...(await trainForm(view, signal, datasetId)));
  view.append(
    el("h2", {}, "Upload a CSV"),
    ...uploadForm(refresh, signal),
    el("h2", {}, "Start a training job"),
    trainSlot,
  );
  await refresh(null);
}
