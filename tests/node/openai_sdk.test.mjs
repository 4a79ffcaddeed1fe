// The openai Node SDK (npm `openai`, pinned in package.json) as a client of ocrgate's
// compatible endpoint (spec §4, §7.2, §8.2): sync, streaming with usage, a built-in task
// chosen by its prompt, the model list, and errors as the SDK's typed exceptions.
// Started by tests/e2e/test_openai_node_sdk.py against a live loopback server:
//   OCRGATE_ORIGIN, OCRGATE_API_KEY, OCRGATE_IMAGE (a PNG the test rendered),
//   OCRGATE_LINES (JSON list of the lines drawn in it).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import OpenAI from "openai";

const origin = process.env.OCRGATE_ORIGIN;
const apiKey = process.env.OCRGATE_API_KEY;
const lines = JSON.parse(process.env.OCRGATE_LINES || "[]");
assert.ok(origin && apiKey && process.env.OCRGATE_IMAGE && lines.length, "environment not set by the Python test");

const client = new OpenAI({ baseURL: `${origin}/compatible-mode/v1`, apiKey, maxRetries: 0, timeout: 120_000 });
const image = `data:image/png;base64,${readFileSync(process.env.OCRGATE_IMAGE).toString("base64")}`;
const MODEL = "qwen-vl-ocr-latest";
const TEXT_PROMPT = "Please output only the text content from the image without any additional descriptions or formatting.";
const ADVANCED_PROMPT = "Locate all text lines and return the coordinates of the rotated rectangle ([cx, cy, width, height, angle]).";

const normalise = (s) => s.toLowerCase().replace(/\s+/g, "");
const messages = (prompt) => [{
  role: "user",
  content: [{ type: "image_url", image_url: { url: image } }, { type: "text", text: prompt }],
}];

let syncText = null;

test("sync completion reads every line and reports usage", async () => {
  const rsp = await client.chat.completions.create({ model: MODEL, messages: messages(TEXT_PROMPT) });
  assert.equal(rsp.object, "chat.completion");
  assert.match(rsp.id, /^chatcmpl-/);
  assert.equal(rsp.model, MODEL);
  assert.equal(rsp.choices.length, 1);
  assert.equal(rsp.choices[0].finish_reason, "stop");
  const text = rsp.choices[0].message.content;
  assert.equal(typeof text, "string");
  for (const line of lines) assert.ok(normalise(text).includes(normalise(line)), `missing line ${line} in ${text}`);
  const u = rsp.usage;
  assert.ok(u.prompt_tokens_details.image_tokens > 0);
  assert.equal(u.prompt_tokens, u.prompt_tokens_details.image_tokens + u.prompt_tokens_details.text_tokens);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.ok(u.completion_tokens > 0);
  syncText = text;
});

test("streaming with include_usage: deltas add up to the answer, usage comes last", async () => {
  const stream = await client.chat.completions.create({
    model: MODEL, messages: messages(TEXT_PROMPT), stream: true, stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.ok(chunks.length >= 3, `only ${chunks.length} chunks`);
  assert.equal(new Set(chunks.map((c) => c.id)).size, 1, "one id for the whole stream");
  assert.equal(chunks[0].choices[0].delta.role, "assistant");
  const withChoices = chunks.filter((c) => c.choices.length);
  const text = withChoices.map((c) => c.choices[0].delta.content ?? "").join("");
  assert.equal(withChoices.at(-1).choices[0].finish_reason, "stop");
  for (const c of withChoices.slice(0, -1)) assert.equal(c.choices[0].finish_reason, null);
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.ok(last.usage.completion_tokens > 0);
  assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
  for (const line of lines) assert.ok(normalise(text).includes(normalise(line)), `missing line ${line}`);
  if (syncText !== null) assert.equal(text, syncText, "stream and sync answers differ");
});

test("a built-in task by its prompt: advanced_recognition answers rotated boxes", async () => {
  const rsp = await client.chat.completions.create({ model: MODEL, messages: messages(ADVANCED_PROMPT) });
  const text = rsp.choices[0].message.content;
  const body = /```json\n([\s\S]*?)\n```/.exec(text);
  assert.ok(body, `no json fence in ${text}`);
  const words = JSON.parse(body[1]);
  assert.equal(words.length, lines.length);
  // the compatible answer is text only: rotate_rect and text per line (spec §6.4)
  for (const [i, w] of words.entries()) {
    assert.equal(w.rotate_rect.length, 5);
    assert.ok(normalise(w.text).includes(normalise(lines[i])), `line ${i}: ${w.text}`);
  }
});

test("models.list() pages through the model list", async () => {
  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  assert.ok(ids.includes(MODEL) && ids.includes("qwen-vl-ocr"), ids.join(","));
});

test("errors arrive as the SDK's typed exceptions with the service's message", async () => {
  await assert.rejects(
    client.chat.completions.create({ model: MODEL, messages: messages(TEXT_PROMPT), max_tokens: 10 ** 6 }),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `${err.constructor.name}: ${err.message}`);
      assert.equal(err.status, 400);
      assert.equal(err.code, "invalid_parameter_error");
      assert.match(err.message, /max_tokens/);
      return true;
    },
  );
  await assert.rejects(
    client.chat.completions.create({ model: "no-such-model", messages: messages(TEXT_PROMPT) }),
    (err) => err instanceof OpenAI.NotFoundError && err.code === "model_not_found",
  );
  const stranger = new OpenAI({ baseURL: `${origin}/compatible-mode/v1`, apiKey: "sk-wrong", maxRetries: 0 });
  await assert.rejects(
    stranger.chat.completions.create({ model: MODEL, messages: messages(TEXT_PROMPT) }),
    (err) => err instanceof OpenAI.AuthenticationError && err.code === "invalid_api_key",
  );
  // an error before streaming starts is thrown by create(), not inside the iteration
  await assert.rejects(
    client.chat.completions.create({
      model: MODEL, stream: true,
      messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] }],
    }),
    (err) => err instanceof OpenAI.BadRequestError && /decode|image/i.test(err.message),
  );
});
