// The answer shown as what it is: a table as a table (sanitised HTML), a LaTeX document
// or formula through KaTeX, KIE as a JSON tree, advanced_recognition as a list of lines
// (linked to the boxes by main.js), anything else as text. The task decides; for a free
// prompt the answer's own fence (```html, ```latex, ```json) does.
import { jsonTree } from "./jsontree.js";
import { renderDocument, renderFormula } from "./latex.js";

const BY_TASK = {
  table_parsing: "html",
  document_parsing: "latex",
  formula_recognition: "formula",
  key_information_extraction: "json",
  advanced_recognition: "lines",
};
const TABLE_TAGS = [
  "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "colgroup", "col",
  "br", "b", "strong", "i", "em", "u", "sub", "sup", "span", "p", "div",
];

/** The first fenced block of an answer: {kind, body}, or null. */
export function fenceOf(text) {
  const m = /```([\w+-]*)[ \t]*\n?([\s\S]*?)(?:\n?```|$)/.exec(text || "");
  return m ? { kind: m[1].toLowerCase(), body: m[2] } : null;
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function plain(text) {
  const pre = document.createElement("pre");
  pre.className = "answer-text";
  pre.textContent = text;
  return pre;
}

/** The words_info entries of an answer (ocr_result, else the fenced JSON text). */
export function wordsOf(text, ocrResult) {
  if (Array.isArray(ocrResult?.words_info)) return ocrResult.words_info;
  const parsed = parseJson(fenceOf(text)?.body ?? text);
  return Array.isArray(parsed) ? parsed : [];
}

function linesList(words) {
  const list = document.createElement("ol");
  list.className = "lines";
  const items = words.map((word, i) => {
    const li = document.createElement("li");
    li.dataset.index = String(i);
    const number = document.createElement("span");
    number.className = "line-no";
    number.textContent = String(i + 1);
    li.append(number);
    const text = document.createElement("span");
    text.className = "line-text";
    text.textContent = word.text ?? "";
    li.append(text);
    if (typeof word.confidence === "number") {
      const score = document.createElement("span");
      score.className = "line-score";
      score.textContent = word.confidence.toFixed(2);
      li.append(score);
    }
    list.append(li);
    return li;
  });
  return { list, items };
}

/**
 * Render an answer into `container`. Resolves to {kind, words, lineItems}: for
 * advanced_recognition the words_info entries and the <li> of each, else [].
 */
export async function renderAnswer(container, { task, text, ocrResult }) {
  container.replaceChildren();
  const fence = fenceOf(text);
  const kind = BY_TASK[task] ?? (fence ? fence.kind : "text");
  if (kind === "lines") {
    const words = wordsOf(text, ocrResult);
    if (!words.length) {
      container.append(plain("No text lines found."));
      return { kind, words, lineItems: [] };
    }
    const { list, items } = linesList(words);
    container.append(list);
    return { kind, words, lineItems: items };
  }
  if (kind === "html") {
    const body = fence?.kind === "html" ? fence.body : text;
    const { default: DOMPurify } = await import("dompurify"); // loaded on first table
    const fragment = DOMPurify.sanitize(body, {
      ALLOWED_TAGS: TABLE_TAGS, ALLOWED_ATTR: ["colspan", "rowspan"], RETURN_DOM_FRAGMENT: true,
    });
    const wrap = document.createElement("div");
    wrap.className = "html-answer";
    wrap.append(fragment);
    container.append(wrap);
  } else if (kind === "latex") {
    await renderDocument(text, container);
  } else if (kind === "formula") {
    await renderFormula(text, container);
  } else if (kind === "json") {
    const value = ocrResult?.kv_result ?? parseJson(fence?.body ?? text);
    container.append(value === undefined ? plain(text) : jsonTree(value));
  } else {
    container.append(plain(fence && fence.kind === kind ? fence.body : text));
  }
  return { kind, words: [], lineItems: [] };
}
