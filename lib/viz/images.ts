// Pictures of images: PNG encoding of raw pixels, mosaics for files,
// captioned grids for notebooks, and SVG drawings as notebook outputs that
// every viewer shows (trusted or not, nbconvert old or new).
import sharp from "sharp";
import { escapeHtml, inKernel, show } from "./display";

export interface RawImage {
  /** Row-major HWC, 8-bit. */
  pixels: Uint8Array;
  width: number;
  height: number;
  channels?: 1 | 3 | 4;
}

export async function pngFromPixels(image: RawImage): Promise<Buffer> {
  const channels = image.channels ?? 3;
  if (image.pixels.length !== image.width * image.height * channels) {
    throw new Error(`pngFromPixels: ${image.pixels.length} bytes do not make a ${image.width}x${image.height}x${channels} image`);
  }
  return sharp(Buffer.from(image.pixels.buffer, image.pixels.byteOffset, image.pixels.byteLength), {
    raw: { width: image.width, height: image.height, channels },
  })
    .png()
    .toBuffer();
}

export interface MosaicOptions {
  columns: number;
  /** Pixels between tiles. */
  gap?: number;
  /** Every tile is scaled to fit this square (keeping its aspect ratio). */
  tile?: number;
  background?: { r: number; g: number; b: number };
}

/** One PNG with the images in a grid, row by row: for files (the CLI) where a notebook would show a grid. */
export async function mosaicPng(images: RawImage[], options: MosaicOptions): Promise<Buffer> {
  if (images.length === 0) throw new Error("mosaicPng: no images");
  const gap = options.gap ?? 2;
  const tile = options.tile ?? Math.max(...images.map((i) => Math.max(i.width, i.height)));
  const columns = Math.max(1, Math.min(options.columns, images.length));
  const rows = Math.ceil(images.length / columns);
  const tiles = await Promise.all(
    images.map((img) =>
      sharp(Buffer.from(img.pixels.buffer, img.pixels.byteOffset, img.pixels.byteLength), {
        raw: { width: img.width, height: img.height, channels: img.channels ?? 3 },
      })
        .resize(tile, tile, { fit: "contain", background: options.background ?? { r: 255, g: 255, b: 255 }, kernel: "nearest" })
        .removeAlpha()
        .png()
        .toBuffer(),
    ),
  );
  return sharp({
    create: {
      width: columns * tile + (columns + 1) * gap,
      height: rows * tile + (rows + 1) * gap,
      channels: 3,
      background: options.background ?? { r: 255, g: 255, b: 255 },
    },
  })
    .composite(
      tiles.map((input, i) => ({ input, left: gap + (i % columns) * (tile + gap), top: gap + Math.floor(i / columns) * (tile + gap) })),
    )
    .removeAlpha() // composite always adds an alpha channel
    .png()
    .toBuffer();
}

export interface GridItem {
  png: Buffer;
  caption: string;
}

/** Images per row when a grid does not say: about 900 pixels wide, as a notebook's output area is. */
export function gridColumns(size: number, count: number, width = 900): number {
  return Math.max(1, Math.min(count, Math.floor(width / (size + 12))));
}

/**
 * HTML for captioned images, `columns` to a row, each `size` pixels wide. A
 * table with width attributes and no style attribute: an untrusted notebook
 * (classic Notebook's sanitiser drops inline styles) and every exporter lay it
 * out the same way. The PNGs are expected at their shown size (gridImages).
 */
export function imageGridHtml(items: GridItem[], size = 160, columns = gridColumns(size, items.length)): string {
  const cells = items.map(
    (it) =>
      `<td align="center" valign="top" width="${size}"><img src="data:image/png;base64,${it.png.toString("base64")}" width="${size}" alt="${escapeHtml(it.caption)}"/><br/><small>${escapeHtml(it.caption)}</small></td>`,
  );
  const rows: string[] = [];
  for (let i = 0; i < cells.length; i += columns) rows.push(`<tr>${cells.slice(i, i + columns).join("")}</tr>`);
  return `<table class="alexnet-grid">${rows.join("")}</table>`;
}

/** Each image scaled to `size` pixels wide: small ones pixel by pixel (no CSS can ask for that untrusted), large ones resampled. */
export async function gridImages(items: GridItem[], size: number): Promise<GridItem[]> {
  return Promise.all(
    items.map(async (it) => {
      const meta = await sharp(it.png).metadata();
      if (meta.width === size) return it;
      const png = await sharp(it.png)
        .resize({ width: size, kernel: (meta.width ?? size) < size ? "nearest" : "lanczos3" })
        .png()
        .toBuffer();
      return { ...it, png };
    }),
  );
}

/** Shows captioned images in a notebook, in rows of `columns`; plain viewers get the captions. */
export async function showImageGrid(items: GridItem[], size = 160, columns?: number): Promise<void> {
  const text = items.map((it, i) => `[${i}] ${it.caption}`).join("\n");
  if (!inKernel()) return show({ "text/plain": text });
  show({ "text/html": imageGridHtml(await gridImages(items, size), size, columns), "text/plain": text });
}

/** Rasterises an SVG to an opaque PNG (text, bars and embedded data: URI images), `density` times its size (librsvg reads SVG at 72 dpi). */
export async function svgToPng(svg: string, density = 1): Promise<Buffer> {
  return sharp(Buffer.from(svg), { density: 72 * density })
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .png()
    .toBuffer();
}

/**
 * An SVG drawing as a notebook output: a PNG drawn at twice its size and shown
 * at its size (output metadata), and text. Not image/svg+xml: classic Notebook
 * shows no SVG in an untrusted notebook and nbconvert 6.5's HTML empties it
 * (its clean_html filter), while a PNG survives both, GitHub and every exporter.
 */
export async function svgImageBundle(
  svg: string,
  description: string,
  density = 2,
): Promise<{ bundle: Record<string, string>; metadata: Record<string, unknown> }> {
  const size = svg.match(/<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/);
  if (!size) throw new Error("svgImageBundle: the <svg> element needs width and height attributes");
  const png = await svgToPng(svg, density);
  return {
    bundle: { "image/png": png.toString("base64"), "text/plain": description },
    metadata: { "image/png": { width: Number(size[1]), height: Number(size[2]) } },
  };
}

/** Shows an SVG drawing in a notebook (as svgImageBundle's PNG); prints `description` elsewhere. */
export async function showSvg(svg: string, description: string): Promise<void> {
  if (!inKernel()) return show({ "text/plain": description });
  const { bundle, metadata } = await svgImageBundle(svg, description);
  show(bundle, metadata);
}

/** Any image sharp reads (JPEG, PNG, ...) as PNG, e.g. for a grid. */
export async function toPng(encoded: Buffer): Promise<Buffer> {
  return sharp(encoded, { autoOrient: true }).png().toBuffer();
}

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The image resized to `size` (if given), with a rectangle drawn on it: e.g.
 * the 256x256 centre crop on the resized photo.
 */
export async function drawBox(encoded: Buffer, box: Box, size?: { width: number; height: number }, colour = "#ffeb3b"): Promise<Buffer> {
  const base = sharp(encoded, { autoOrient: true });
  const resized = size ? base.resize(size.width, size.height, { fit: "fill" }) : base;
  const { data, info } = await resized.removeAlpha().png().toBuffer({ resolveWithObject: true });
  const stroke = Math.max(2, Math.round(Math.max(info.width, info.height) / 120));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${info.width}" height="${info.height}"><rect x="${box.left + stroke / 2}" y="${box.top + stroke / 2}" width="${box.width - stroke}" height="${box.height - stroke}" fill="none" stroke="${colour}" stroke-width="${stroke}"/></svg>`;
  return sharp(data)
    .composite([{ input: Buffer.from(svg), left: 0, top: 0 }])
    .removeAlpha()
    .png()
    .toBuffer();
}

/**
 * Float pixels (HWC, 0..255 units, e.g. the mean image) as a PNG. With
 * `stretch`, each channel's range is mapped onto 0..255 so faint structure shows.
 */
export async function floatImagePng(
  values: Float32Array,
  width: number,
  height: number,
  options: { stretch?: boolean } = {},
): Promise<Buffer> {
  const channels = values.length / (width * height);
  if (channels !== 1 && channels !== 3)
    throw new Error(`floatImagePng: ${values.length} values do not make a ${width}x${height} image with 1 or 3 channels`);
  const lo = new Array<number>(channels).fill(0);
  const hi = new Array<number>(channels).fill(255);
  if (options.stretch) {
    lo.fill(Infinity);
    hi.fill(-Infinity);
    values.forEach((v, i) => {
      const c = i % channels;
      if (v < lo[c]) lo[c] = v;
      if (v > hi[c]) hi[c] = v;
    });
  }
  const pixels = new Uint8Array(values.length);
  values.forEach((v, i) => {
    const c = i % channels;
    const span = hi[c] - lo[c] || 1;
    pixels[i] = Math.max(0, Math.min(255, Math.round(((v - lo[c]) / span) * 255)));
  });
  return pngFromPixels({ pixels, width, height, channels: channels as 1 | 3 });
}
