// Pictures of images: PNG encoding of raw pixels, mosaics for files, and
// captioned grids for notebooks.
import sharp from "sharp";
import { escapeHtml, show } from "./display";

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
  return sharp(Buffer.from(image.pixels.buffer, image.pixels.byteOffset, image.pixels.byteLength), { raw: { width: image.width, height: image.height, channels } })
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
      sharp(Buffer.from(img.pixels.buffer, img.pixels.byteOffset, img.pixels.byteLength), { raw: { width: img.width, height: img.height, channels: img.channels ?? 3 } })
        .resize(tile, tile, { fit: "contain", background: options.background ?? { r: 255, g: 255, b: 255 }, kernel: "nearest" })
        .removeAlpha()
        .png()
        .toBuffer(),
    ),
  );
  return sharp({
    create: { width: columns * tile + (columns + 1) * gap, height: rows * tile + (rows + 1) * gap, channels: 3, background: options.background ?? { r: 255, g: 255, b: 255 } },
  })
    .composite(tiles.map((input, i) => ({ input, left: gap + (i % columns) * (tile + gap), top: gap + Math.floor(i / columns) * (tile + gap) })))
    .removeAlpha() // composite always adds an alpha channel
    .png()
    .toBuffer();
}

export interface GridItem {
  png: Buffer;
  caption: string;
}

/** HTML for captioned images in rows; `size` is the displayed width of each image in CSS pixels. */
export function imageGridHtml(items: GridItem[], size = 160): string {
  const figures = items.map(
    (it) =>
      `<figure style="margin:4px;width:${size}px;text-align:center"><img src="data:image/png;base64,${it.png.toString("base64")}" style="width:${size}px;image-rendering:pixelated"/><figcaption style="font-size:11px;line-height:1.2">${escapeHtml(it.caption)}</figcaption></figure>`,
  );
  return `<div style="display:flex;flex-wrap:wrap">${figures.join("")}</div>`;
}

/** Shows captioned images in a notebook; plain viewers get the captions. */
export function showImageGrid(items: GridItem[], size = 160): void {
  show({ "text/html": imageGridHtml(items, size), "text/plain": items.map((it, i) => `[${i}] ${it.caption}`).join("\n") });
}
