// The LaTeX-document reader of the playground (src/ocrgate/web/app/latex.js) on fixed
// documents: block structure, tabular spans, comments and escapes. Pure functions, no DOM;
// run by tests/web/test_latex.py with `node --test`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { documentBody, parseBlocks, parseTabular } from "../../src/ocrgate/web/app/latex.js";

const DOC = String.raw`\documentclass{article}
\usepackage{amsmath}
\begin{document}

\section*{Results}

Growth was 12\% in 2024, % a comment to drop
measured as $g = \frac{a}{b}$ per year.

\[ E = mc^2 \]

\begin{table}[h]
\centering
\begin{tabular}{|l|l|l|}
\hline
Name & \multicolumn{2}{l|}{Score} \\ \hline
\multirow{2}{*}{Bob} & 75 & 64 \\ \cline{2-3}
 & 88 & 70 \\ \hline
\end{tabular}
\end{table}

\begin{itemize}
\item first point
\item second with $x^2$
\end{itemize}

\begin{figure}[h]
\centering
\caption*{Figure 1: sales}
\end{figure}

\begin{equation}
a^2 + b^2 = c^2
\end{equation}

\newpage

Last page.

\end{document}`;

test("documentBody keeps only the body, without comments and the fence", () => {
  const body = documentBody("```latex\n" + DOC + "\n```");
  assert.ok(!body.includes("documentclass") && !body.includes("\\begin{document}"));
  assert.ok(!body.includes("a comment to drop"));
  assert.ok(body.includes("12\\%"), "an escaped % is text, not a comment");
});

test("parseBlocks finds every block in order", () => {
  const blocks = parseBlocks(documentBody(DOC));
  assert.deepEqual(blocks.map((b) => b.type),
    ["heading", "p", "math", "table", "ul", "figure", "math", "pagebreak", "p"]);
  assert.deepEqual(blocks[0], { type: "heading", level: "h3", text: "Results" });
  assert.match(blocks[1].text, /^Growth was 12\\% in 2024,\s+measured as \$g = \\frac\{a\}\{b\}\$ per year\.$/);
  assert.equal(blocks[2].tex.trim(), "E = mc^2");
  assert.equal(blocks[4].items.length, 2);
  assert.equal(blocks[4].items[1][0].text, "second with $x^2$");
  assert.deepEqual(blocks[5].blocks, [{ type: "caption", text: "Figure 1: sales" }]);
  assert.match(blocks[6].tex, /^\\begin\{equation\}\s*a\^2 \+ b\^2 = c\^2\s*\\end\{equation\}$/);
  assert.equal(blocks[8].text, "Last page.");
});

test("tabular spans: \\multicolumn and \\multirow, covered cells dropped", () => {
  const table = parseBlocks(documentBody(DOC)).find((b) => b.type === "table");
  assert.deepEqual(table.rows, [
    [{ text: "Name", colspan: 1, rowspan: 1 }, { text: "Score", colspan: 2, rowspan: 1 }],
    [{ text: "Bob", colspan: 1, rowspan: 2 }, { text: "75", colspan: 1, rowspan: 1 }, { text: "64", colspan: 1, rowspan: 1 }],
    [{ text: "88", colspan: 1, rowspan: 1 }, { text: "70", colspan: 1, rowspan: 1 }],
  ]);
});

test("tabular: escaped & and \\\\ inside braces do not split cells or rows", () => {
  const rows = parseTabular(String.raw`A \& B & {x \\ y} \\ 1 & 2 \\`);
  assert.deepEqual(rows.map((r) => r.map((c) => c.text)), [["A \\& B", "{x \\\\ y}"], ["1", "2"]]);
});

test("inline math is copied whole: nothing inside it is taken for a block", () => {
  const blocks = parseBlocks(String.raw`See $\begin{matrix} a \\ b \end{matrix}$ here.`);
  assert.deepEqual(blocks.map((b) => b.type), ["p"]);
});
