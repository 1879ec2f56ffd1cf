import assert from "node:assert/strict";
import { test } from "node:test";
import sharp from "sharp";
import {
  drawBox,
  floatImagePng,
  gridColumns,
  gridImages,
  imageGridHtml,
  mosaicPng,
  pngFromPixels,
  svgImageBundle,
  svgToPng,
  toPng,
} from "../../lib/viz/images";

const solid = (w: number, h: number, rgb: [number, number, number]) => {
  const px = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) px.set(rgb, i * 3);
  return { pixels: px, width: w, height: h };
};

test("pngFromPixels round-trips raw pixels and refuses a wrong size", async () => {
  const img = solid(3, 2, [10, 20, 30]);
  img.pixels[0] = 255;
  const { data, info } = await sharp(await pngFromPixels(img))
    .raw()
    .toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [3, 2, 3]);
  assert.deepEqual([...data], [...img.pixels]);
  await assert.rejects(pngFromPixels({ pixels: new Uint8Array(5), width: 3, height: 2 }), /5 bytes do not make a 3x2x3 image/);
});

test("mosaicPng lays tiles out row by row with gaps", async () => {
  const colours: [number, number, number][] = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
  ];
  const png = await mosaicPng(
    colours.map((c) => solid(4, 4, c)),
    { columns: 2, gap: 1, tile: 4, background: { r: 0, g: 0, b: 0 } },
  );
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [2 * 4 + 3, 2 * 4 + 3]);
  const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
  assert.deepEqual(at(2, 2), [255, 0, 0], "first tile top-left");
  assert.deepEqual(at(7, 2), [0, 255, 0], "second tile to its right");
  assert.deepEqual(at(2, 7), [0, 0, 255], "third tile on the next row");
  assert.deepEqual(at(0, 0), [0, 0, 0], "gap has the background");
  assert.deepEqual(at(7, 7), [0, 0, 0], "missing fourth tile is background");
});

test("imageGridHtml lays captioned images out in rows of a table, with no style attribute for an untrusted view to drop", () => {
  const items = [1, 2, 3, 4, 5].map((i) => ({ png: Buffer.from([i, 2, 3]), caption: i === 1 ? "a<b" : `c${i}` }));
  const html = imageGridHtml(items, 100, 2);
  assert.equal(html.match(/<tr>/g)?.length, 3, "5 images, 2 to a row");
  assert.equal(html.match(/<img /g)?.length, 5);
  assert.match(html, /data:image\/png;base64,AQID/);
  assert.match(html, /a&lt;b/);
  assert.match(html, /<img [^>]*width="100"/);
  assert.doesNotMatch(html, /style=/);
  assert.equal(gridColumns(160, 12), 5, "as many 160-pixel images as fit 900 pixels");
  assert.equal(gridColumns(160, 2), 2);
});

test("gridImages scales each image to the grid's width: pixel by pixel when enlarging", async () => {
  const tiny = await sharp({ create: { width: 2, height: 1, channels: 3, background: { r: 0, g: 0, b: 0 } } })
    .composite([{ input: Buffer.from([255, 255, 255]), raw: { width: 1, height: 1, channels: 3 }, left: 1, top: 0 }])
    .png()
    .toBuffer();
  const [out] = await gridImages([{ png: tiny, caption: "x" }], 8);
  const { data, info } = await sharp(out.png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [8, 4]);
  // Nearest neighbour: the left half black, the right half white, nothing in between.
  const row = Array.from({ length: 8 }, (_, x) => data[x * info.channels]);
  assert.deepEqual(row, [0, 0, 0, 0, 255, 255, 255, 255]);
});

test("svgImageBundle: a PNG at twice the drawing's size, shown at its size, and text", async () => {
  const { bundle, metadata } = await svgImageBundle(
    '<svg xmlns="http://www.w3.org/2000/svg" width="30" height="20"><rect width="30" height="20" fill="red"/></svg>',
    "a red box",
  );
  assert.deepEqual(Object.keys(bundle).sort(), ["image/png", "text/plain"]);
  assert.deepEqual(metadata, { "image/png": { width: 30, height: 20 } });
  const meta = await sharp(Buffer.from(bundle["image/png"], "base64")).metadata();
  assert.deepEqual([meta.width, meta.height], [60, 40]);
  await assert.rejects(svgImageBundle("<svg></svg>", "x"), /width and height/);
});

test("svgToPng rasterises at a density and flattens transparency onto white", async () => {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="4"><rect width="5" height="4" fill="black"/></svg>';
  const { data, info } = await sharp(await svgToPng(svg, 3))
    .raw()
    .toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [30, 12, 3]);
  assert.deepEqual([data[0], data[(30 - 1) * 3]], [0, 255], "black where drawn, white where transparent");
});

test("toPng converts any encoded image", async () => {
  const jpeg = await sharp({ create: { width: 5, height: 4, channels: 3, background: { r: 200, g: 10, b: 10 } } })
    .jpeg()
    .toBuffer();
  const meta = await sharp(await toPng(jpeg)).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ["png", 5, 4]);
});

test("drawBox resizes and outlines the box, leaving its inside untouched", async () => {
  const src = await sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 0, g: 0, b: 255 } } })
    .png()
    .toBuffer();
  const png = await drawBox(src, { left: 10, top: 0, width: 20, height: 20 }, { width: 40, height: 20 }, "#ff0000");
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)];
  assert.deepEqual([info.width, info.height], [40, 20]);
  assert.deepEqual(at(10, 10), [255, 0, 0], "left edge of the box");
  assert.deepEqual(at(20, 10), [0, 0, 255], "inside the box");
  assert.deepEqual(at(2, 10), [0, 0, 255], "outside the box");
});

test("floatImagePng maps 0..255 values directly, or stretches each channel to the full range", async () => {
  const values = new Float32Array([100, 0, 255, 110, 0, 255]); // 2x1, RGB
  const read = async (png: Buffer) => [...(await sharp(png).raw().toBuffer())];
  assert.deepEqual(await read(await floatImagePng(values, 2, 1)), [100, 0, 255, 110, 0, 255]);
  assert.deepEqual(await read(await floatImagePng(values, 2, 1, { stretch: true })), [0, 0, 0, 255, 0, 0]);
  await assert.rejects(floatImagePng(new Float32Array(4), 2, 1), /do not make a 2x1 image/);
});
