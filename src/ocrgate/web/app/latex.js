// A LaTeX document (document_parsing's answer) shown as HTML: sections, paragraphs,
// lists, tabular (with \multicolumn / \multirow), figures with captions, and math rendered
// with KaTeX (inline $…$ / \(…\), display \[…\] / $$…$$ / equation, align…). It covers the
// subset OCR models write, not LaTeX at large: unknown commands show their argument's
// text. Text is always inserted as text nodes; only KaTeX writes markup. One reader (block
// scanner, tabular, inline text), so one module though it is ~400 lines.

const DISPLAY_ENVS = new Set([
  "equation", "equation*", "align", "align*", "gather", "gather*", "multline", "multline*",
  "eqnarray", "eqnarray*", "displaymath", "math",
]);
const HEADINGS = { title: "h2", chapter: "h2", section: "h3", subsection: "h4", subsubsection: "h5", paragraph: "h6" };
const DROPPED = new Set([
  "centering", "raggedright", "raggedleft", "noindent", "maketitle", "hline", "toprule", "midrule",
  "bottomrule", "small", "footnotesize", "large", "Large", "normalsize", "par", "bigskip", "medskip",
  "smallskip", "vfill", "hfill", "tableofcontents", "indent",
]);
const DROPPED_WITH_ARG = new Set(["label", "includegraphics", "vspace", "hspace", "usepackage", "documentclass", "cline", "setlength", "pagestyle", "thispagestyle"]);
const ESCAPES = { "%": "%", "&": "&", "_": "_", "#": "#", "$": "$", "{": "{", "}": "}", " ": " ", ",": "\u2009", ";": " ", "!": "" };
const SYMBOLS = { textbackslash: "\\", textasciitilde: "~", textasciicircum: "^", ldots: "…", dots: "…", textbar: "|", textless: "<", textgreater: ">", S: "§", copyright: "©", textdegree: "°" };
const STYLES = { textbf: "strong", textit: "em", emph: "em", textsl: "em", underline: "u", texttt: "code", textsc: "span", textrm: "span", textsf: "span", text: "span", mbox: "span", textnormal: "span" };

let katexModule = null;
async function loadKatex() {
  if (!katexModule) katexModule = (await import("katex")).default;
  return katexModule;
}

/** The fence's body (```latex … ```), the document body, comments removed. */
export function documentBody(text) {
  let src = text.replace(/^\s*```[\w-]*[ \t]*\n?/, "").replace(/\n?```\s*$/, "");
  const begin = src.indexOf("\\begin{document}");
  if (begin >= 0) {
    const end = src.lastIndexOf("\\end{document}");
    src = src.slice(begin + "\\begin{document}".length, end > begin ? end : undefined);
  }
  return stripComments(src);
}

function stripComments(src) {
  return src.split("\n").map((line) => {
    for (let i = 0; i < line.length; i++) {
      if (line[i] === "\\") i++;
      else if (line[i] === "%") return line.slice(0, i);
    }
    return line;
  }).join("\n");
}

/** The {…} group starting at src[at] (after optional spaces): {value, end}. */
function readGroup(src, at) {
  let i = at;
  while (src[i] === " ") i++;
  if (src[i] !== "{") return null;
  let depth = 0;
  for (let j = i; j < src.length; j++) {
    if (src[j] === "\\") { j++; continue; }
    if (src[j] === "{") depth++;
    else if (src[j] === "}" && --depth === 0) return { value: src.slice(i + 1, j), end: j + 1 };
  }
  return { value: src.slice(i + 1), end: src.length };
}

function skipOptional(src, at) {
  if (src[at] !== "[") return at;
  const close = src.indexOf("]", at);
  return close < 0 ? at : close + 1;
}

function findEnv(src, name, from) {
  const open = `\\begin{${name}}`;
  const close = `\\end{${name}}`;
  let depth = 1;
  let i = from;
  while (i < src.length) {
    const o = src.indexOf(open, i);
    const c = src.indexOf(close, i);
    if (c < 0) return { inner: src.slice(from), end: src.length };
    if (o >= 0 && o < c) { depth++; i = o + open.length; continue; }
    if (--depth === 0) return { inner: src.slice(from, c), end: c + close.length };
    i = c + close.length;
  }
  return { inner: src.slice(from), end: src.length };
}

/** Whether a paragraph holds only layout commands (\centering, \vspace{…}, …). */
function onlyLayout(text) {
  const rest = text
    .replace(/\\([a-zA-Z]+)\*?(\[[^\]]*\])?(\{[^{}]*\})?/g, (all, name, opt, arg) =>
      DROPPED_WITH_ARG.has(name) ? "" : DROPPED.has(name) ? (arg ?? "") : all);
  return !rest.trim();
}

/** Block structure of a LaTeX body: [{type, …}]. */
export function parseBlocks(src) {
  const out = [];
  let para = "";
  const flush = () => {
    if (!onlyLayout(para)) out.push({ type: "p", text: para.trim() });
    para = "";
  };
  let i = 0;
  while (i < src.length) {
    const ch = src[i];
    if (ch === "\\") {
      const rest = src.slice(i, i + 40);
      let m;
      if ((m = /^\\begin\{([^}]+)\}/.exec(rest))) {
        const name = m[1];
        let from = skipOptional(src, i + m[0].length);
        const env = findEnv(src, name, from);
        flush();
        if (DISPLAY_ENVS.has(name)) {
          out.push({ type: "math", tex: name.startsWith("displaymath") || name === "math" ? env.inner : `\\begin{${name}}${env.inner}\\end{${name}}` });
        } else if (name === "tabular" || name === "tabular*" || name === "tabularx" || name === "array") {
          let inner = env.inner;
          if (name !== "tabular" && name !== "array") inner = inner.slice(readGroup(inner, 0)?.end ?? 0);
          const spec = readGroup(inner, 0);
          out.push({ type: "table", rows: parseTabular(spec ? inner.slice(spec.end) : inner) });
        } else if (name === "itemize" || name === "enumerate") {
          const items = env.inner.split(/\\item\b\s*(?:\[[^\]]*\])?/).slice(1);
          out.push({ type: name === "itemize" ? "ul" : "ol", items: items.map((t) => parseBlocks(t)) });
        } else if (name === "figure" || name === "figure*") {
          out.push({ type: "figure", blocks: parseBlocks(env.inner) });
        } else {
          out.push(...parseBlocks(env.inner));
        }
        i = env.end;
        continue;
      }
      if (src.startsWith("\\[", i)) {
        const close = src.indexOf("\\]", i + 2);
        flush();
        out.push({ type: "math", tex: src.slice(i + 2, close < 0 ? undefined : close) });
        i = close < 0 ? src.length : close + 2;
        continue;
      }
      if ((m = /^\\(title|chapter|section|subsection|subsubsection|paragraph|caption)\*?(?=[\s{[])/.exec(rest))) {
        const group = readGroup(src, skipOptional(src, i + m[0].length));
        if (group) {
          flush();
          out.push(m[1] === "caption" ? { type: "caption", text: group.value } : { type: "heading", level: HEADINGS[m[1]], text: group.value });
          i = group.end;
          continue;
        }
      }
      if ((m = /^\\(newpage|clearpage|pagebreak)\b/.exec(rest))) {
        flush();
        out.push({ type: "pagebreak" });
        i += m[0].length;
        continue;
      }
      para += src.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (src.startsWith("$$", i)) {
      const close = src.indexOf("$$", i + 2);
      flush();
      out.push({ type: "math", tex: src.slice(i + 2, close < 0 ? undefined : close) });
      i = close < 0 ? src.length : close + 2;
      continue;
    }
    if (ch === "$") {
      // inline math is copied whole, so nothing inside it is taken for a block
      const close = src.indexOf("$", i + 1);
      if (close > i) {
        para += src.slice(i, close + 1);
        i = close + 1;
        continue;
      }
    }
    const blank = ch === "\n" ? /^\n[ \t]*\n/.exec(src.slice(i, i + 40)) : null;
    if (blank) {
      flush();
      i += blank[0].length;
      continue;
    }
    para += ch;
    i++;
  }
  flush();
  return out;
}

function splitTop(src, sep) {
  const parts = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === "\\") {
      if (sep === "\\\\" && src[i + 1] === "\\" && depth === 0) {
        parts.push(src.slice(start, i));
        i += 1;
        start = i + 1;
        continue;
      }
      i++;
      continue;
    }
    if (c === "{") depth++;
    else if (c === "}") depth--;
    else if (c === sep && depth === 0) {
      parts.push(src.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(src.slice(start));
  return parts;
}

/** tabular body → rows of {text, colspan, rowspan}; cells covered by a \multirow above are dropped. */
export function parseTabular(body) {
  const raw = splitTop(body, "\\\\").map((r) =>
    r.replace(/^\s*\[[^\]]*\]/, "")
      .replace(/\\(hline|toprule|midrule|bottomrule)\b/g, "")
      .replace(/\\(cline|cmidrule)(\([^)]*\))?\{[^}]*\}/g, ""));
  const rows = [];
  const covered = new Map(); // "r,c" → true for cells under a \multirow
  raw.forEach((line, r) => {
    if (!line.trim() && r === raw.length - 1) return;
    const row = [];
    let c = 0;
    for (let cell of splitTop(line, "&")) {
      cell = cell.trim();
      let colspan = 1;
      let rowspan = 1;
      let m = /^\\multicolumn\s*\{(\d+)\}\s*\{[^}]*\}\s*/.exec(cell);
      if (m) {
        colspan = Number(m[1]);
        cell = readGroup(cell, m[0].length)?.value.trim() ?? "";
      }
      m = /^\\multirow\s*\{(-?\d+)\}\s*(\[[^\]]*\])?\s*\{[^}]*\}\s*/.exec(cell);
      if (m) {
        rowspan = Math.max(1, Number(m[1]));
        cell = readGroup(cell, m[0].length)?.value.trim() ?? "";
      }
      if (covered.has(`${r},${c}`)) {
        c += colspan;
        continue;
      }
      for (let dr = 1; dr < rowspan; dr++) {
        for (let dc = 0; dc < colspan; dc++) covered.set(`${r + dr},${c + dc}`, true);
      }
      row.push({ text: cell, colspan, rowspan });
      c += colspan;
    }
    rows.push(row);
  });
  return rows;
}

/** Inline LaTeX (text with $…$, \textbf{…}, escapes) appended to `parent` as nodes. */
export function renderInline(src, parent, katex) {
  let text = "";
  const flushText = () => {
    if (text) parent.append(document.createTextNode(text));
    text = "";
  };
  let i = 0;
  while (i < src.length) {
    const ch = src[i];
    if (ch === "$" || src.startsWith("\\(", i)) {
      const closeTok = ch === "$" ? "$" : "\\)";
      const open = ch === "$" ? 1 : 2;
      const close = src.indexOf(closeTok, i + open);
      if (close > i) {
        flushText();
        const span = document.createElement("span");
        katex.render(src.slice(i + open, close), span, { throwOnError: false, displayMode: false });
        parent.append(span);
        i = close + closeTok.length;
        continue;
      }
    }
    if (ch === "\\") {
      const next = src[i + 1];
      if (next === "\\") {
        flushText();
        parent.append(document.createElement("br"));
        i = skipOptional(src, i + 2);
        continue;
      }
      if (next in ESCAPES) {
        text += ESCAPES[next];
        i += 2;
        continue;
      }
      const m = /^\\([a-zA-Z]+)\*?/.exec(src.slice(i, i + 40));
      if (!m) {
        i += 1;
        continue;
      }
      const name = m[1];
      let at = i + m[0].length;
      if (name in SYMBOLS) {
        text += SYMBOLS[name];
        i = src.startsWith("{}", at) ? at + 2 : at;
        continue;
      }
      if (DROPPED.has(name)) {
        i = at;
        continue;
      }
      at = skipOptional(src, at);
      const group = readGroup(src, at);
      if (DROPPED_WITH_ARG.has(name)) {
        i = group ? group.end : at;
        continue;
      }
      if (group) {
        flushText();
        const el = document.createElement(STYLES[name] || "span");
        if (name === "footnote") el.className = "footnote";
        renderInline(group.value, el, katex);
        parent.append(el);
        i = group.end;
        continue;
      }
      i = at;
      continue;
    }
    if (ch === "{" || ch === "}") {
      i++;
      continue;
    }
    text += ch === "~" ? "\u00a0" : ch;
    i++;
  }
  flushText();
}

function renderBlocks(blocks, parent, katex) {
  for (const b of blocks) {
    if (b.type === "p") {
      const p = document.createElement("p");
      renderInline(b.text, p, katex);
      parent.append(p);
    } else if (b.type === "heading") {
      const h = document.createElement(b.level);
      renderInline(b.text, h, katex);
      parent.append(h);
    } else if (b.type === "caption") {
      const c = document.createElement("p");
      c.className = "caption";
      renderInline(b.text, c, katex);
      parent.append(c);
    } else if (b.type === "math") {
      const div = document.createElement("div");
      div.className = "math-display";
      katex.render(b.tex.trim(), div, { throwOnError: false, displayMode: true });
      parent.append(div);
    } else if (b.type === "table") {
      const table = document.createElement("table");
      for (const row of b.rows) {
        const tr = document.createElement("tr");
        for (const cell of row) {
          const td = document.createElement("td");
          if (cell.colspan > 1) td.colSpan = cell.colspan;
          if (cell.rowspan > 1) td.rowSpan = cell.rowspan;
          renderInline(cell.text, td, katex);
          tr.append(td);
        }
        table.append(tr);
      }
      parent.append(table);
    } else if (b.type === "ul" || b.type === "ol") {
      const list = document.createElement(b.type);
      for (const item of b.items) {
        const li = document.createElement("li");
        renderBlocks(item, li, katex);
        list.append(li);
      }
      parent.append(list);
    } else if (b.type === "figure") {
      const fig = document.createElement("figure");
      const box = document.createElement("div");
      box.className = "figure-placeholder";
      box.textContent = "figure";
      fig.append(box);
      renderBlocks(b.blocks, fig, katex);
      parent.append(fig);
    } else if (b.type === "pagebreak") {
      parent.append(document.createElement("hr"));
    }
  }
}

/** Render a document_parsing answer into `parent` (KaTeX is loaded on first use). */
export async function renderDocument(text, parent) {
  const katex = await loadKatex();
  const root = document.createElement("article");
  root.className = "latex-document";
  renderBlocks(parseBlocks(documentBody(text)), root, katex);
  parent.append(root);
}

/** Render a formula answer ($$…$$, or bare LaTeX) into `parent`. */
export async function renderFormula(text, parent) {
  const katex = await loadKatex();
  const blocks = parseBlocks(stripComments(text.trim()));
  const maths = blocks.filter((b) => b.type === "math");
  const sources = maths.length ? maths.map((b) => b.tex) : [text.trim()];
  for (const tex of sources) {
    const div = document.createElement("div");
    div.className = "math-display";
    katex.render(tex.trim(), div, { throwOnError: false, displayMode: true });
    parent.append(div);
  }
}
