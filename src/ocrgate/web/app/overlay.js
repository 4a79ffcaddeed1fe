// advanced_recognition's text lines drawn over the input image: one SVG polygon per
// words_info entry, in the image's own pixel space (viewBox = natural size), so the
// boxes follow the picture at any displayed size. Stroke width stays 2 screen px.

const SVG = "http://www.w3.org/2000/svg";

/** rotate_rect [cx, cy, w, h, angle] → 8 corner coordinates (spec §11's helper). */
export function rectCorners([cx, cy, w, h, angle]) {
  const a = ((angle % 180) * Math.PI) / 180;
  const cos = Math.cos(a);
  const sin = Math.sin(a);
  const out = [];
  for (const [dx, dy] of [[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]]) {
    out.push(Math.trunc(cx + dx * cos - dy * sin), Math.trunc(cy + dx * sin + dy * cos));
  }
  return out;
}

/** The quadrilateral of one words_info entry: `location`, else from `rotate_rect`. */
export function corners(word) {
  if (Array.isArray(word.location) && word.location.length === 8) return word.location;
  if (Array.isArray(word.rotate_rect) && word.rotate_rect.length === 5) return rectCorners(word.rotate_rect);
  return null;
}

/**
 * Draw `words` into `svg` sized for an image of width × height. Returns the polygons,
 * indexed like `words` (null where an entry had no coordinates).
 */
export function drawBoxes(svg, words, width, height) {
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  return words.map((word, i) => {
    const pts = corners(word);
    if (!pts) return null;
    const poly = document.createElementNS(SVG, "polygon");
    poly.setAttribute("points", [0, 2, 4, 6].map((k) => `${pts[k]},${pts[k + 1]}`).join(" "));
    poly.setAttribute("class", "box");
    poly.dataset.index = String(i);
    const title = document.createElementNS(SVG, "title");
    title.textContent = word.text ?? "";
    poly.append(title);
    svg.append(poly);
    return poly;
  });
}

/**
 * Draw the boxes of `words` over `preview` (only those of the first image, spec §5.6's
 * image_index) and link each box with its line in `items`, both ways: hover highlights
 * the pair, a click selects it (and scrolls the line into view). False if the preview
 * has no size (not an image the browser shows).
 */
export function linkBoxes(svg, preview, words, items) {
  const { naturalWidth: w, naturalHeight: h } = preview;
  if (!w || !h) return false;
  const onFirstImage = words.map((word) => ((word.image_index ?? 0) === 0 ? word : {}));
  const polygons = drawBoxes(svg, onFirstImage, w, h);
  const activate = (i, selected) => {
    for (const [j, poly] of polygons.entries()) {
      poly?.classList.toggle("active", j === i);
      items[j]?.classList.toggle("active", j === i);
      if (selected) {
        poly?.classList.toggle("selected", j === i);
        items[j]?.classList.toggle("selected", j === i);
      }
    }
  };
  const indexOf = (target) => {
    const node = target.closest?.("[data-index]");
    return node ? Number(node.dataset.index) : -1;
  };
  svg.onpointerover = (e) => activate(indexOf(e.target), false);
  svg.onpointerleave = () => activate(-1, false);
  svg.onclick = (e) => {
    const i = indexOf(e.target);
    activate(i, true);
    items[i]?.scrollIntoView({ block: "nearest" });
  };
  for (const [i, item] of items.entries()) {
    item.onpointerenter = () => activate(i, false);
    item.onpointerleave = () => activate(-1, false);
    item.onclick = () => activate(i, true);
  }
  return true;
}
