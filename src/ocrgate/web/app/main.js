// The playground page: input (drop / paste / pick / URL), options, one call to the public
// native endpoint (streamed), and the answer shown with its boxes, usage, timing and the
// same request as code. See api.js for the only network calls it makes.
import { KIE, ServiceError, listModels, recognize } from "./api.js";
import { watchInputs } from "./input.js";
import { linkBoxes } from "./overlay.js";
import { renderAnswer } from "./render.js";
import { EXAMPLE_SCHEMAS } from "./schemas.js";
import { curlSnippet, dashscopeSnippet, openaiSnippet } from "./snippets.js";

const $ = (id) => document.getElementById(id);
const el = {
  key: $("api-key"), model: $("model"), modelsStatus: $("models-status"),
  drop: $("drop"), file: $("file"), url: $("url"),
  task: $("task"), promptRow: $("prompt-row"), prompt: $("prompt"),
  schemaRow: $("schema-row"), schema: $("schema"), schemaExample: $("schema-example"), schemaStatus: $("schema-status"),
  minPixels: $("min-pixels"), maxPixels: $("max-pixels"), maxTokens: $("max-tokens"),
  rotate: $("enable-rotate"), stream: $("stream"), run: $("run"), stop: $("stop"),
  sourceInfo: $("source-info"), stage: $("stage"), preview: $("preview"), boxes: $("boxes"),
  error: $("error"), stats: $("stats"), result: $("tab-result"), text: $("tab-text"), json: $("tab-json"),
};
const KEY_STORE = "ocrgate.playground.key";
const DEFAULT_MODELS = ["qwen-vl-ocr-latest", "qwen-vl-ocr"];

const state = { source: null, controller: null, models: new Map() };

// ---- input -------------------------------------------------------------------------

function setSource(source) {
  state.source = source;
  clearBoxes();
  const isPdf = source.mime === "application/pdf" || /\.pdf$/i.test(source.name);
  const size = source.size ? ` · ${(source.size / 1024).toFixed(0)} KB` : "";
  el.sourceInfo.textContent = `${source.kind === "url" ? source.url : source.name}${size}`;
  if (isPdf) {
    el.stage.hidden = true;
    el.preview.removeAttribute("src");
    el.sourceInfo.textContent += " · PDF (no preview; the server reads it only with pdf_rasterize on)";
  } else {
    el.stage.hidden = false;
    el.preview.src = source.previewUrl;
  }
  updateSnippets();
}

el.preview.addEventListener("load", () => {
  const { naturalWidth: w, naturalHeight: h } = el.preview;
  el.sourceInfo.dataset.size = `${w}x${h}`;
  if (!el.sourceInfo.textContent.includes(" px")) el.sourceInfo.textContent += ` · ${w} × ${h} px`;
});
el.preview.addEventListener("error", () => {
  if (!state.source) return;
  el.stage.hidden = true;
  el.sourceInfo.textContent += " · no preview in this browser (the service may still read it)";
});

watchInputs(el, setSource);

// ---- options -----------------------------------------------------------------------

for (const [i, example] of EXAMPLE_SCHEMAS.entries()) {
  el.schemaExample.append(new Option(example.name, String(i)));
}
el.schemaExample.addEventListener("change", () => {
  const example = EXAMPLE_SCHEMAS[Number(el.schemaExample.value)];
  el.schema.value = el.schemaExample.value === "" ? "" : JSON.stringify(example.schema, null, 2);
  checkSchema();
  updateSnippets();
});

/** The schema in the editor: {schema} (undefined when empty) or {error}. */
function readSchema() {
  const text = el.schema.value.trim();
  if (!text) return { schema: undefined };
  try {
    return { schema: JSON.parse(text) };
  } catch (err) {
    return { error: err.message };
  }
}

function checkSchema() {
  const { error } = readSchema();
  el.schema.classList.toggle("invalid", Boolean(error));
  el.schemaStatus.textContent = error ? `Not valid JSON: ${error}` : "";
}
el.schema.addEventListener("input", () => {
  checkSchema();
  updateSnippets();
});

function showTaskFields() {
  el.promptRow.hidden = el.task.value !== "";
  el.schemaRow.hidden = el.task.value !== KIE;
}
el.task.addEventListener("change", () => {
  showTaskFields();
  updateSnippets();
});
for (const input of [el.prompt, el.minPixels, el.maxPixels, el.maxTokens, el.rotate, el.stream, el.model]) {
  input.addEventListener("input", updateSnippets);
  input.addEventListener("change", updateSnippets);
}

function intOrNull(input) {
  const n = Number.parseInt(input.value, 10);
  return Number.isFinite(n) ? n : null;
}

function currentRequest() {
  return {
    model: el.model.value || DEFAULT_MODELS[0],
    image: state.source?.image,
    task: el.task.value || null,
    prompt: el.task.value ? "" : el.prompt.value.trim(),
    schema: el.task.value === KIE ? readSchema().schema : undefined,
    minPixels: intOrNull(el.minPixels),
    maxPixels: intOrNull(el.maxPixels),
    enableRotate: el.rotate.checked,
    maxTokens: intOrNull(el.maxTokens),
  };
}

// ---- models ------------------------------------------------------------------------

function fillModels(ids) {
  const keep = el.model.value;
  el.model.replaceChildren(...ids.map((id) => new Option(id, id)));
  el.model.value = ids.includes(keep) ? keep : ids.includes(DEFAULT_MODELS[0]) ? DEFAULT_MODELS[0] : ids[0];
  markTasks();
}

/** Tasks the chosen model's engines do not answer are labelled (still selectable). */
function markTasks() {
  const engines = state.models.get(el.model.value);
  const served = engines ? new Set(Object.values(engines).flat()) : null;
  for (const option of el.task.options) {
    if (!option.value) continue;
    option.dataset.label ??= option.textContent;
    const off = served && !served.has(option.value);
    option.textContent = off ? `${option.dataset.label} — not served here` : option.dataset.label;
  }
}
el.model.addEventListener("change", markTasks);

async function refreshModels() {
  try {
    const data = await listModels(el.key.value.trim());
    state.models = new Map(data.map((m) => [m.id, m.engines || null]));
    fillModels(data.map((m) => m.id));
    el.modelsStatus.textContent = "";
  } catch (err) {
    state.models = new Map();
    fillModels(DEFAULT_MODELS);
    el.modelsStatus.textContent = `models: ${err.message}`;
  }
  updateSnippets();
}

el.key.value = sessionStorage.getItem(KEY_STORE) || "";
el.key.addEventListener("change", () => {
  sessionStorage.setItem(KEY_STORE, el.key.value.trim());
  refreshModels();
});

// ---- output ------------------------------------------------------------------------

for (const tab of document.querySelectorAll("[role=tab]")) {
  tab.addEventListener("click", () => selectTab(tab.dataset.tab));
}

function selectTab(name) {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
    $(`tab-${tab.dataset.tab}`).hidden = tab.dataset.tab !== name;
  }
}

function showError(err) {
  el.error.replaceChildren();
  const title = document.createElement("strong");
  const status = err.status ? `${err.status} ` : "";
  title.textContent = err instanceof ServiceError ? `${status}${err.code ?? "Error"}` : "Error";
  const message = document.createElement("p");
  message.className = "error-message";
  message.textContent = err.message || String(err);
  el.error.append(title, message);
  if (err.requestId) {
    const rid = document.createElement("p");
    rid.className = "muted";
    rid.textContent = `request_id ${err.requestId}`;
    el.error.append(rid);
  }
  el.error.dataset.code = err.code || "";
  el.error.hidden = false;
  document.body.dataset.state = "error";
}

function clearBoxes() {
  el.boxes.replaceChildren();
  el.stage.classList.remove("has-boxes");
}

function fmtMs(ms) {
  return ms === null || ms === undefined ? "–" : ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function showStats(result) {
  const u = result.usage || {};
  const parts = [
    `first result ${fmtMs(result.timings.firstMs)}`,
    `total ${fmtMs(result.timings.totalMs)}`,
    `input ${u.input_tokens ?? "–"} tokens (image ${u.image_tokens ?? "–"})`,
    `output ${u.output_tokens ?? "–"}`,
    `total tokens ${u.total_tokens ?? "–"}`,
    `finish ${result.finishReason ?? "–"}`,
  ];
  el.stats.textContent = parts.join(" · ");
  if (result.requestId) el.stats.title = `request_id ${result.requestId}`;
  el.stats.dataset.firstMs = String(Math.round(result.timings.firstMs ?? -1));
  el.stats.dataset.totalMs = String(Math.round(result.timings.totalMs));
}

function updateSnippets() {
  const source = state.source ?? { kind: "file", name: "receipt.jpg", mime: "image/jpeg" };
  const req = currentRequest();
  const origin = window.location.origin;
  const stream = el.stream.checked;
  const code = {
    curl: curlSnippet(req, source, origin, stream),
    dashscope: dashscopeSnippet(req, source, origin, stream),
    openai: openaiSnippet(req, source, origin, stream),
  };
  for (const [name, text] of Object.entries(code)) {
    document.querySelector(`[data-snippet=${name}] pre`).textContent = text;
  }
}

for (const button of document.querySelectorAll(".snippet .copy")) {
  button.addEventListener("click", async () => {
    const text = button.closest(".snippet").querySelector("pre").textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // clipboard API needs a secure context; fall back to a selection copy
      const area = document.createElement("textarea");
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = "Copy"), 1500);
  });
}

// ---- run ---------------------------------------------------------------------------

let runs = 0;

/** One click on Run; body[data-state] and body[data-runs] tell when it has finished. */
async function run() {
  document.body.dataset.state = "running";
  try {
    await runOnce();
  } finally {
    document.body.dataset.runs = String(++runs);
  }
}

async function runOnce() {
  el.error.hidden = true;
  if (!state.source) {
    showError(new Error("Choose an image or PDF first (drop, paste, pick a file) or give a URL."));
    return;
  }
  const schema = readSchema();
  if (el.task.value === KIE && schema.error) {
    showError(new Error(`The result schema is not valid JSON: ${schema.error}`));
    return;
  }
  const req = currentRequest();
  const stream = el.stream.checked;
  updateSnippets();
  clearBoxes();
  el.stats.textContent = "running…";
  delete el.stats.dataset.firstMs;
  el.text.textContent = "";
  el.text.dataset.deltas = "0";
  el.json.textContent = "";
  const live = document.createElement("pre");
  live.className = "answer-text streaming";
  el.result.replaceChildren(live);
  state.controller = new AbortController();
  el.run.disabled = true;
  el.stop.disabled = false;
  try {
    const result = await recognize(req, {
      key: el.key.value.trim(),
      stream,
      signal: state.controller.signal,
      onDelta: (delta) => {
        live.textContent += delta;
        el.text.textContent += delta;
        el.text.dataset.deltas = String(Number(el.text.dataset.deltas || 0) + 1);
      },
    });
    el.text.textContent = result.text;
    el.json.textContent = JSON.stringify({
      text: result.text, ocr_result: result.ocrResult ?? undefined, usage: result.usage,
      finish_reason: result.finishReason, request_id: result.requestId,
    }, null, 2);
    showStats(result);
    const shown = await renderAnswer(el.result, { task: req.task, text: result.text, ocrResult: result.ocrResult });
    if (shown.kind === "lines" && !el.stage.hidden) {
      el.stage.classList.toggle("has-boxes", linkBoxes(el.boxes, el.preview, shown.words, shown.lineItems));
    }
    document.body.dataset.state = "done";
  } catch (err) {
    if (err.name === "AbortError") {
      el.stats.textContent = "stopped";
      document.body.dataset.state = "stopped";
    } else {
      el.stats.textContent = "";
      el.result.replaceChildren();
      showError(err);
    }
  } finally {
    state.controller = null;
    el.run.disabled = false;
    el.stop.disabled = true;
  }
}

el.run.addEventListener("click", run);
el.stop.addEventListener("click", () => state.controller?.abort());

showTaskFields();
fillModels(DEFAULT_MODELS);
updateSnippets();
refreshModels();
