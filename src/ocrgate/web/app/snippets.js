// The request the page just made, as code to copy: curl (native endpoint), the dashscope
// Python SDK (native; a local file goes through the SDK's upload flow) and the openai
// Python SDK (compatible endpoint; the task is chosen by its exact prompt, spec §6.3).
// The key is read from $DASHSCOPE_API_KEY, never pasted into the code.
import { KIE, nativeBody } from "./api.js";
import PROMPTS from "./prompts.json";

/** The prompt text that selects `task` on the compatible endpoint (catalog.task_prompt). */
export function taskPrompt(task, schema, freePrompt) {
  if (!task) return freePrompt || PROMPTS.default_prompt;
  if (task === KIE && schema !== null && schema !== undefined) {
    return `${PROMPTS.kie_schema_prompt}${PROMPTS.kie_schema_marker} ${JSON.stringify(schema)}。`;
  }
  return PROMPTS.prompts[task];
}

/** A Python literal for a JSON value. */
export function py(value) {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(py).join(", ")}]`;
  return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${py(v)}`).join(", ")}}`;
}

function shellQuote(text) {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

const IMAGE_TOKEN = "__OCRGATE_IMAGE__";

/**
 * `req` is what recognize() got (model, task, prompt, schema, pixels, rotate, maxTokens);
 * `source` is {kind: "file" | "url", name, mime, url}; `origin` the service's origin.
 */
export function curlSnippet(req, source, origin, stream) {
  const isUrl = source.kind === "url";
  const body = nativeBody({ ...req, image: isUrl ? source.url : IMAGE_TOKEN }, stream);
  // unquoted here-document: escape what the shell would expand, then let $IMAGE in
  const json = JSON.stringify(body, null, 2).replace(/[\\$`]/g, (c) => `\\${c}`);
  const lines = [];
  if (!isUrl) {
    lines.push(`IMAGE="data:${source.mime};base64,$(base64 -w0 ${shellQuote(source.name)})"`);
  }
  lines.push(
    `curl -sS ${origin}/api/v1/services/aigc/multimodal-generation/generation \\`,
    '  -H "Authorization: Bearer $DASHSCOPE_API_KEY" \\',
    '  -H "Content-Type: application/json" \\',
  );
  if (stream) lines.push('  -H "X-DashScope-SSE: enable" \\');
  lines.push("  -d @- <<EOF", json.replace(`"${IMAGE_TOKEN}"`, '"$IMAGE"'), "EOF");
  return lines.join("\n");
}

export function dashscopeSnippet(req, source, origin, stream) {
  const item = { image: source.kind === "url" ? source.url : source.name };
  if (req.minPixels) item.min_pixels = req.minPixels;
  if (req.maxPixels) item.max_pixels = req.maxPixels;
  if (req.enableRotate) item.enable_rotate = true;
  const content = [item];
  if (!req.task && req.prompt) content.push({ text: req.prompt });
  const args = [
    '    api_key=os.environ["DASHSCOPE_API_KEY"],',
    `    model=${py(req.model)},`,
    "    messages=messages,",
  ];
  if (req.task) {
    const options = { task: req.task };
    if (req.task === KIE && req.schema) options.task_config = { result_schema: req.schema };
    args.push(`    ocr_options=${py(options)},`);
  }
  if (req.maxTokens) args.push(`    max_tokens=${req.maxTokens},`);
  if (stream) args.push("    stream=True,", "    incremental_output=True,");
  const lines = [
    "import os",
    "",
    "import dashscope",
    "from dashscope import MultiModalConversation",
    "",
    `dashscope.base_http_api_url = ${py(`${origin}/api/v1`)}`,
  ];
  if (source.kind !== "url") lines.push("# a local path: the SDK uploads the file first (spec §3)");
  lines.push(
    `messages = [{"role": "user", "content": ${py(content)}}]`,
    "rsp = MultiModalConversation.call(",
    ...args,
    ")",
  );
  if (stream) {
    lines.push(
      "for event in rsp:",
      "    if event.status_code != 200:",
      '        raise SystemExit(f"{event.code}: {event.message}")',
      "    for part in event.output.choices[0].message.content:",
      '        print(part.get("text", ""), end="", flush=True)',
      '        if "ocr_result" in part:',
      '            print("\\n", part["ocr_result"])',
      "print()",
    );
  } else {
    lines.push(
      "if rsp.status_code != 200:",
      '    raise SystemExit(f"{rsp.code}: {rsp.message}")',
      "content = rsp.output.choices[0].message.content[0]",
      'print(content["text"])',
      'if "ocr_result" in content:',
      '    print(content["ocr_result"])',
      "print(rsp.usage)",
    );
  }
  return lines.join("\n");
}

export function openaiSnippet(req, source, origin, stream) {
  const part = { type: "image_url", image_url: { url: "IMAGE" } };
  if (req.minPixels) part.min_pixels = req.minPixels;
  if (req.maxPixels) part.max_pixels = req.maxPixels;
  const partLiteral = py(part).replace('"IMAGE"', "image");
  const lines = ["import base64", "import os", "", "from openai import OpenAI", ""];
  lines.push(
    `client = OpenAI(base_url=${py(`${origin}/compatible-mode/v1`)}, api_key=os.environ["DASHSCOPE_API_KEY"])`,
  );
  if (source.kind === "url") {
    lines.push(`image = ${py(source.url)}`);
  } else {
    lines.push(
      `with open(${py(source.name)}, "rb") as f:`,
      `    image = ${py(`data:${source.mime};base64,`)} + base64.b64encode(f.read()).decode()`,
    );
  }
  lines.push(
    `prompt = ${py(taskPrompt(req.task, req.schema, req.prompt))}`,
    "rsp = client.chat.completions.create(",
    `    model=${py(req.model)},`,
    `    messages=[{"role": "user", "content": [${partLiteral}, {"type": "text", "text": prompt}]}],`,
  );
  if (req.maxTokens) lines.push(`    max_tokens=${req.maxTokens},`);
  if (req.enableRotate) lines.push('    extra_body={"enable_rotate": True},  # an ocrgate extension');
  if (stream) lines.push("    stream=True,", '    stream_options={"include_usage": True},');
  lines.push(")");
  if (stream) {
    lines.push(
      "for chunk in rsp:",
      "    if chunk.choices:",
      '        print(chunk.choices[0].delta.content or "", end="", flush=True)',
      "    if chunk.usage:",
      '        print("\\n", chunk.usage)',
    );
  } else {
    lines.push("print(rsp.choices[0].message.content)", "print(rsp.usage)");
  }
  return lines.join("\n");
}
