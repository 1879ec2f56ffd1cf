import assert from "node:assert/strict";
import { test } from "node:test";
import sharp from "sharp";
import { imageGridHtml, mosaicPng, pngFromPixels } from "../../lib/viz/images";

const solid = (w: number, h: number, rgb: [number, number, number]) => {
  const px = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) px.set(rgb, i * 3);
  return { pixels: px, width: w, height: h };
};

test("pngFromPixels round-trips raw pixels and refuses a wrong size", async () => {
  const img = solid(3, 2, [10, 20, 30]);
  img.pixels[0] = 255;
  const { data, info } = await sharp(await pngFromPixels(img)).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [3, 2, 3]);
  assert.deepEqual([...data], [...img.pixels]);
  await assert.rejects(pngFromPixels({ pixels: new Uint8Array(5), width: 3, height: 2 }), /5 bytes do not make a 3x2x3 image/);
});

test("mosaicPng lays tiles out row by row with gaps", async () => {
  const colours: [number, number, number][] = [[255, 0, 0], [0, 255, 0], [0, 0, 255]];
  const png = await mosaicPng(colours.map((c) => solid(4, 4, c)), { columns: 2, gap: 1, tile: 4, background: { r: 0, g: 0, b: 0 } });
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [2 * 4 + 3, 2 * 4 + 3]);
  const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
  assert.deepEqual(at(2, 2), [255, 0, 0], "first tile top-left");
  assert.deepEqual(at(7, 2), [0, 255, 0], "second tile to its right");
  assert.deepEqual(at(2, 7), [0, 0, 255], "third tile on the next row");
  assert.deepEqual(at(0, 0), [0, 0, 0], "gap has the background");
  assert.deepEqual(at(7, 7), [0, 0, 0], "missing fourth tile is background");
});

test("imageGridHtml embeds every image with its escaped caption", () => {
  const html = imageGridHtml([{ png: Buffer.from([1, 2, 3]), caption: "a<b" }, { png: Buffer.from([4]), caption: "c" }], 100);
  assert.equal(html.match(/<figure/g)?.length, 2);
  assert.match(html, /data:image\/png;base64,AQID/);
  assert.match(html, /a&lt;b/);
});
