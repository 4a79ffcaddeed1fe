// Builds the playground into dist/: one hashed entry script (app/main.js) with its
// lazily loaded chunks (KaTeX is only fetched when a formula or document is shown), one
// hashed stylesheet, KaTeX's fonts, and index.html pointing at the hashed names.
// Run by scripts/setup.sh after `npm ci`; everything comes from node_modules (no CDN).
import { build } from "esbuild";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "dist");
const assets = join(out, "assets");

await rm(out, { recursive: true, force: true });
await mkdir(assets, { recursive: true });

const result = await build({
  absWorkingDir: here,
  entryPoints: { app: "app/main.js", style: "app/style.css" },
  bundle: true,
  splitting: true,
  format: "esm",
  target: ["chrome110", "firefox115", "safari16"],
  minify: true,
  sourcemap: false,
  legalComments: "linked",
  outdir: assets,
  entryNames: "[name]-[hash]",
  chunkNames: "chunk-[hash]",
  assetNames: "[name]-[hash]",
  loader: { ".woff2": "file", ".woff": "file", ".ttf": "file" },
  metafile: true,
  logLevel: "warning",
});

// the hashed names of the two entry points, for index.html
const entry = {};
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (meta.entryPoint === "app/main.js") entry.script = basename(file);
  if (meta.entryPoint === "app/style.css") entry.style = basename(file);
}
if (!entry.script || !entry.style) throw new Error("esbuild produced no app script or stylesheet");
const html = (await readFile(join(here, "index.html"), "utf8"))
  .replaceAll("%SCRIPT%", `/playground/assets/${entry.script}`)
  .replaceAll("%STYLE%", `/playground/assets/${entry.style}`);
await writeFile(join(out, "index.html"), html);
console.log(`playground built: dist/index.html, assets/${entry.script}, assets/${entry.style}`);
