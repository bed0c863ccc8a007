// The dashboard's entry point: the API key form and the views, chosen by the URL's #fragment.
import { apiKey, setApiKey } from "./api.js";
import { showNew } from "./data.js";
import { errorBox } from "./dom.js";
import { showJob, showJobs } from "./jobs.js";
import { showModel, showModels } from "./models.js";

const ROUTES = [
  [/^(?:#jobs)?$/, showJobs],
  [/^#jobs\/(.+)$/, showJob],
  [/^#models$/, showModels],
  [/^#models\/(.+)$/, showModel],
  [/^#new$/, showNew],
];

let current = null; // the view on screen; aborting it stops its requests and live updates

async function route() {
  current?.abort();
  current = new AbortController();
  const { signal } = current;
  const view = document.getElementById("view");
  view.replaceChildren();
  const hash = window.location.hash;
  for (const [pattern, show] of ROUTES) {
    const match = pattern.exec(hash === "#" ? "" : hash);
    if (!match) continue;
    try {
      await show(view, signal, ...match.slice(1).map(decodeURIComponent));
    } catch (error) {
      if (!signal.aborted) view.append(errorBox(error));
    }
    return;
  }
  view.append(errorBox({ message: `no page ${hash}` }));
}

function keyForm() {
  const form = document.getElementById("key-form");
  const input = document.getElementById("key");
  const state = document.getElementById("key-state");
  const describe = () => {
    state.textContent = apiKey() ? "key set for this tab" : "no key";
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setApiKey(input.value.trim());
    input.value = "";
    describe();
    route();
  });
  describe();
}

keyForm();
window.addEventListener("hashchange", route);
route();
