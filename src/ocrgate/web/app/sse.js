// Server-sent events read from a fetch() body: yields {event, data, status} per event.
// Both dialects are handled: native lines have no space after the colon
// ("data:{...}", ":HTTP_STATUS/200" comments), compatible ones do ("data: {...}").

export async function* readEvents(body, signal) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      if (signal?.aborted) return;
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = nextBoundary(buffer)) !== null) {
        const block = buffer.slice(0, cut.at);
        buffer = buffer.slice(cut.at + cut.length);
        const event = parseBlock(block);
        if (event) yield event;
      }
    }
    buffer += decoder.decode();
    const last = parseBlock(buffer);
    if (last) yield last;
  } finally {
    reader.releaseLock();
  }
}

function nextBoundary(text) {
  const m = /\r?\n\r?\n/.exec(text);
  return m ? { at: m.index, length: m[0].length } : null;
}

export function parseBlock(block) {
  let event = "message";
  let status = null;
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (!line) continue;
    if (line.startsWith(":")) {
      const m = /^:HTTP_STATUS\/(\d+)/.exec(line);
      if (m) status = Number(m[1]);
      continue;
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return null;
  return { event, status, data: data.join("\n") };
}
