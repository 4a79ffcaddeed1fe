// The page's only way to the service: the public endpoints any client calls (spec §2,
// §4.6, §7.1), with the key the user typed as the Bearer token.
import { readEvents } from "./sse.js";

export const NATIVE_PATH = "/api/v1/services/aigc/multimodal-generation/generation";
export const MODELS_PATH = "/compatible-mode/v1/models";
export const KIE = "key_information_extraction";

/** An error answered by the service (native or compatible body), or a network failure. */
export class ServiceError extends Error {
  constructor(status, code, message, requestId = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

function headers(key, extra = {}) {
  const h = { ...extra };
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

/**
 * The native request body (spec §2.1) for one image and the chosen options:
 * {model, image, task, prompt, schema, minPixels, maxPixels, enableRotate, maxTokens}.
 */
export function nativeBody(req, stream) {
  const item = { image: req.image };
  if (req.minPixels) item.min_pixels = req.minPixels;
  if (req.maxPixels) item.max_pixels = req.maxPixels;
  if (req.enableRotate) item.enable_rotate = true;
  const content = [item];
  if (!req.task && req.prompt) content.push({ text: req.prompt });
  const parameters = {};
  if (req.task) {
    parameters.ocr_options = { task: req.task };
    if (req.task === KIE && req.schema !== undefined && req.schema !== null) {
      parameters.ocr_options.task_config = { result_schema: req.schema };
    }
  }
  if (req.maxTokens) parameters.max_tokens = req.maxTokens;
  if (stream) parameters.incremental_output = true;
  return { model: req.model, input: { messages: [{ role: "user", content }] }, parameters };
}

async function errorFrom(response) {
  const raw = await response.text();
  let body = null;
  try {
    body = JSON.parse(raw);
  } catch {
    /* not JSON: show the raw text */
  }
  if (body && body.error) {
    // compatible dialect (spec §8.2)
    return new ServiceError(response.status, body.error.code || body.error.type,
      body.error.message, body.request_id || null);
  }
  if (body && (body.code || body.message)) {
    return new ServiceError(response.status, body.code, body.message, body.request_id || null);
  }
  return new ServiceError(response.status, `HTTP ${response.status}`, raw || response.statusText);
}

/** Model ids (and the extension field `engines`: task → engine) the key may call. */
export async function listModels(key) {
  const response = await fetch(MODELS_PATH, { headers: headers(key) });
  if (!response.ok) throw await errorFrom(response);
  return (await response.json()).data;
}

function firstContent(data) {
  const choice = data?.output?.choices?.[0];
  const content = choice?.message?.content;
  return { choice, item: Array.isArray(content) ? content[0] : undefined };
}

/**
 * Run one recognition on the native endpoint. With `stream`, SSE with incremental output
 * (spec §7.1): `onDelta(text)` gets each new piece. Resolves to
 * {text, ocrResult, usage, finishReason, requestId, timings: {firstMs, totalMs}}.
 */
export async function recognize(req, { key, stream, signal, onDelta = () => {} }) {
  const started = performance.now();
  let firstMs = null;
  const mark = () => {
    if (firstMs === null) firstMs = performance.now() - started;
  };
  let response;
  try {
    response = await fetch(NATIVE_PATH, {
      method: "POST",
      signal,
      headers: headers(key, {
        "Content-Type": "application/json",
        ...(stream ? { "X-DashScope-SSE": "enable", Accept: "text/event-stream" } : {}),
      }),
      body: JSON.stringify(nativeBody(req, stream)),
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ServiceError(0, "NetworkError", `The request did not reach the service: ${err.message}`);
  }
  if (!response.ok) throw await errorFrom(response);
  const result = { text: "", ocrResult: null, usage: null, finishReason: null, requestId: null };
  const isStream = (response.headers.get("content-type") || "").includes("text/event-stream");
  if (!isStream) {
    const data = await response.json();
    mark();
    const { choice, item } = firstContent(data);
    Object.assign(result, {
      text: item?.text ?? "", ocrResult: item?.ocr_result ?? null, usage: data.usage ?? null,
      finishReason: choice?.finish_reason ?? null, requestId: data.request_id ?? null,
    });
    onDelta(result.text);
  } else {
    for await (const event of readEvents(response.body, signal)) {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        throw new ServiceError(502, "BadStream", `Unreadable event from the service: ${event.data}`);
      }
      if (event.event === "error") {
        throw new ServiceError(event.status || 500, data.code, data.message, data.request_id || null);
      }
      mark();
      const { choice, item } = firstContent(data);
      const delta = item?.text ?? "";
      if (delta) {
        result.text += delta;
        onDelta(delta);
      }
      if (item?.ocr_result) result.ocrResult = item.ocr_result;
      if (data.usage) result.usage = data.usage;
      if (data.request_id) result.requestId = data.request_id;
      if (choice?.finish_reason && choice.finish_reason !== "null") {
        result.finishReason = choice.finish_reason;
      }
    }
  }
  result.timings = { firstMs, totalMs: performance.now() - started };
  return result;
}
