// Where the input comes from: the file picker, a drop anywhere on the page, a paste
// (an image, or a URL), or the URL field. Each becomes one source object:
// {kind: "file" | "url", name, mime, image (what the request sends), size, previewUrl}.

const MIME_BY_EXT = {
  jpg: "image/jpeg", jpeg: "image/jpeg", jpe: "image/jpeg", png: "image/png", bmp: "image/bmp",
  tif: "image/tiff", tiff: "image/tiff", webp: "image/webp", heic: "image/heic", pdf: "application/pdf",
};

let objectUrl = null;

function mimeOf(file) {
  if (file.type) return file.type;
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  return MIME_BY_EXT[ext] || "application/octet-stream";
}

function readDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/** A picked, dropped or pasted file as a source (sent as a data URL). */
export async function fileSource(file) {
  const mime = mimeOf(file);
  // a pasted screenshot is called "image.png" by the browser
  const name = file.name && file.name !== "image.png" ? file.name : `pasted.${mime.split("/")[1] || "png"}`;
  const dataUrl = await readDataUrl(file);
  if (objectUrl) URL.revokeObjectURL(objectUrl);
  objectUrl = URL.createObjectURL(file);
  // the data URL carries the browser's idea of the type (empty for .heic): use ours
  const image = dataUrl.replace(/^data:[^;,]*/, `data:${mime}`);
  return { kind: "file", name, mime, image, size: file.size, previewUrl: objectUrl };
}

/** A typed, dropped or pasted URL as a source (the service fetches it). */
export function urlSource(url) {
  const name = decodeURIComponent(url.split(/[?#]/)[0].split("/").pop() || "image");
  return { kind: "url", name, mime: "", url, image: url, previewUrl: url };
}

/** Wire the picker, drop, paste and the URL field; `use(source)` gets each new input. */
export function watchInputs({ drop, file, url }, use) {
  const fromFile = async (f) => {
    use(await fileSource(f));
    url.value = "";
  };
  const fromUrl = (text) => {
    const value = text.trim();
    if (!value) return;
    url.value = value;
    use(urlSource(value));
  };
  file.addEventListener("change", () => {
    if (file.files[0]) fromFile(file.files[0]);
  });
  url.addEventListener("change", () => fromUrl(url.value));
  url.addEventListener("keydown", (e) => {
    if (e.key === "Enter") fromUrl(url.value);
  });
  for (const type of ["dragenter", "dragover"]) {
    document.addEventListener(type, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
  }
  document.addEventListener("dragleave", (e) => {
    if (!e.relatedTarget) drop.classList.remove("over");
  });
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const dropped = e.dataTransfer?.files?.[0];
    if (dropped) return void fromFile(dropped);
    const uri = e.dataTransfer?.getData("text/uri-list") || e.dataTransfer?.getData("text/plain");
    if (uri) fromUrl(uri.split("\n")[0]);
  });
  document.addEventListener("paste", (e) => {
    const pasted = e.clipboardData?.files?.[0];
    if (pasted) {
      e.preventDefault();
      fromFile(pasted);
      return;
    }
    // a URL pasted outside the form's fields; inside them, pasting stays plain text
    const text = (e.clipboardData?.getData("text/plain") || "").trim();
    const inField = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
    if (!inField && /^(https?:|data:image\/)/i.test(text)) {
      e.preventDefault();
      fromUrl(text);
    }
  });
}
