// A JSON value as a collapsible tree (KIE's kv_result): objects and arrays are
// <details> elements, leaves are typed spans. Text goes in as text nodes only.

function leaf(value) {
  const span = document.createElement("span");
  const kind = value === null ? "null" : typeof value;
  span.className = `json-${kind}`;
  span.textContent = kind === "string" ? JSON.stringify(value) : String(value);
  return span;
}

function label(key) {
  const span = document.createElement("span");
  span.className = "json-key";
  span.textContent = typeof key === "number" ? `[${key}]` : key;
  return span;
}

function node(key, value) {
  const li = document.createElement("li");
  if (value !== null && typeof value === "object") {
    const isArray = Array.isArray(value);
    const entries = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
    const details = document.createElement("details");
    details.open = true;
    const summary = document.createElement("summary");
    if (key !== null) summary.append(label(key), ": ");
    const count = document.createElement("span");
    count.className = "json-count";
    count.textContent = isArray ? `[${entries.length}]` : `{${entries.length}}`;
    summary.append(count);
    const list = document.createElement("ul");
    for (const [k, v] of entries) list.append(node(k, v));
    details.append(summary, list);
    li.append(details);
  } else {
    if (key !== null) li.append(label(key), ": ");
    li.append(leaf(value));
  }
  return li;
}

/** The tree of `value` as a <ul class="json-tree">. */
export function jsonTree(value) {
  const root = document.createElement("ul");
  root.className = "json-tree";
  root.append(node(null, value));
  return root;
}
