import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import sharp from "sharp";
import {
  type PredictionItem,
  confusionMatrixSvg,
  confusionRows,
  predictionCardSvg,
  predictionGalleryHtml,
  predictionGalleryPng,
  retrievalGridPng,
  retrievalLayout,
  showConfusionMatrix,
  showPredictionGallery,
  showRetrievalGrid,
  thumbnailPng,
} from "../../lib/viz/gallery";
import type { RawImage } from "../../lib/viz/images";

const dir = mkdtempSync(join(tmpdir(), "gallery-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const solid = (w: number, h: number, rgb: [number, number, number]): RawImage => {
  const pixels = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) pixels.set(rgb, i * 3);
  return { pixels, width: w, height: h, channels: 3 };
};

/** Runs `fn` with console.log captured (outside a kernel, displays print their text). */
async function quietly<T>(fn: () => Promise<T>): Promise<{ result: T; printed: string }> {
  const printed: string[] = [];
  const log = console.log;
  console.log = (t: string) => printed.push(t);
  try {
    return { result: await fn(), printed: printed.join("\n") };
  } finally {
    console.log = log;
  }
}

const top5 = (labels: string[]) => labels.map((label, i) => ({ label, p: [0.6, 0.2, 0.1, 0.05, 0.03][i] }));

async function items(): Promise<PredictionItem[]> {
  const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 0, g: 128, b: 0 } } })
    .png()
    .toBuffer();
  return [
    { image: solid(8, 8, [200, 0, 0]), top: top5(["mite", "black widow", "cockroach", "tick", "starfish"]), trueLabel: "mite" },
    { image: png, top: top5(["convertible", "grille", "pickup", "beach wagon", "fire engine"]), trueLabel: "grille" },
    {
      image: solid(8, 8, [0, 0, 200]),
      top: top5(["<dalmatian>", "grape", "elderberry", "ffordshire bullterrier", "currant"]),
      trueLabel: "cherry & co",
    },
  ];
}

test("thumbnailPng gives a square PNG, enlarging small raw images pixel by pixel", async () => {
  const img = solid(2, 1, [255, 0, 0]);
  img.pixels.set([0, 0, 255], 3);
  const { data, info } = await sharp(await thumbnailPng(img, 8))
    .raw()
    .toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [8, 8]);
  const at = (x: number, y: number) => [...data.subarray((y * 8 + x) * info.channels, (y * 8 + x) * info.channels + 3)];
  assert.deepEqual(at(3, 4), [255, 0, 0], "left half red, no blending");
  assert.deepEqual(at(4, 4), [0, 0, 255], "right half blue");
  assert.deepEqual(at(0, 0), [255, 255, 255], "letterboxed with white");
});

test("predictionGalleryHtml: five bars per image, the true label's bar marked, a note when it is missing, text escaped", async () => {
  const html = await predictionGalleryHtml(await items(), { title: "Figure 4 <left>" });
  assert.equal(html.match(/<figure/g)?.length, 3);
  assert.equal(html.match(/class="bar/g)?.length, 15, "5 bars per item");
  assert.equal(html.match(/class="bar true"/g)?.length, 2, "items 0 and 1 have their true label in the top 5");
  const cards = html.split("<figure").slice(1);
  assert.match(cards[0], /class="bar true" title="mite: 0\.600"/, "item 0: rank 1 marked");
  assert.match(cards[1], /class="bar true" title="grille: 0\.200"/, "item 1: rank 2 marked");
  assert.match(cards[1], /background:#d62728/, "marked in red");
  assert.doesNotMatch(cards[2], /class="bar true"/);
  assert.match(cards[2], /class="missed"[^>]*>✗ cherry &amp; co not in top 5/);
  assert.match(html, /&lt;dalmatian&gt;/);
  assert.doesNotMatch(html, /<dalmatian>/);
  assert.match(html, /Figure 4 &lt;left&gt;/);
  assert.equal(html.match(/src="data:image\/png;base64,/g)?.length, 3);
});

test("an image whose class is unknown (a learner's photo) gets bars but no mark and no missing note", async () => {
  const [first] = await items();
  const unknown = { image: first.image, top: first.top, caption: "my-photo.jpg" };
  const html = await predictionGalleryHtml([unknown]);
  assert.equal(html.match(/class="bar/g)?.length, 5);
  assert.doesNotMatch(html, /class="bar true"|class="missed"/);
  assert.match(html, /my-photo\.jpg/);
  const svg = await predictionCardSvg(unknown);
  assert.doesNotMatch(svg, /class="missed"/);
});

test("predictionCardSvg draws the image, five bars (true in red) and rasterises", async () => {
  const [first] = await items();
  const svg = await predictionCardSvg(first, { imageSize: 64 });
  assert.equal(svg.match(/class="bar/g)?.length, 5);
  assert.match(svg, /class="bar true"[^>]*fill="#d62728"/);
  assert.match(svg, /<image [^>]*href="data:image\/png;base64,/);
  const { data, info } = await sharp(Buffer.from(svg)).raw().toBuffer({ resolveWithObject: true });
  const width = Number(/width="(\d+)"/.exec(svg)![1]);
  assert.equal(info.width, width);
  // The embedded image is drawn: its centre is the item's red.
  const x = Math.floor(width / 2);
  const y = 8 + 32;
  assert.deepEqual([...data.subarray((y * width + x) * info.channels, (y * width + x) * info.channels + 3)], [200, 0, 0]);
});

test("predictionGalleryPng decodes to the gallery's size", async () => {
  const png = await predictionGalleryPng(await items(), { imageSize: 64, columns: 2 });
  const meta = await sharp(png).metadata();
  // Cards are max(64, 180) + 16 = 196 wide, 8 pixels apart and around.
  assert.deepEqual([meta.format, meta.width], ["png", 8 + 2 * (196 + 8)]);
  // Rows: item 0/1 cards are 8 + 64 + 20 + 5*18 + 8 = 190 high, item 2's 16 more (the missing-label note).
  assert.equal(meta.height, 8 + 190 + 8 + 206 + 8);
});

test("showPredictionGallery writes a standalone page or a PNG, by extension", async () => {
  const its = await items();
  const html = join(dir, "pages", "fig4.html");
  const { printed } = await quietly(() => showPredictionGallery(its, { file: html, title: "Predictions" }));
  assert.match(readFileSync(html, "utf8"), /^<!doctype html>[\s\S]*<title>Predictions<\/title>[\s\S]*class="bar true"/);
  assert.match(printed, /\[1\] grille \(true label at rank 2\): convertible 60\.0%/);
  assert.match(printed, /\[2\] cherry & co \(true label not in top 5\)/);
  const png = join(dir, "fig4.png");
  await quietly(() => showPredictionGallery(its, { file: png }));
  assert.equal((await sharp(png).metadata()).format, "png");
  await assert.rejects(
    quietly(() => showPredictionGallery(its, { file: join(dir, "x.gif") })),
    /use a \.png or \.html file/,
  );
});

test("retrievalGridPng: size follows rows, neighbours and cell; query first, separator, then neighbours", async () => {
  const colours: [number, number, number][] = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
    [255, 255, 0],
  ];
  const rows = [
    { query: solid(4, 4, [0, 0, 0]), neighbours: colours.map((c) => ({ image: solid(4, 4, c) })) },
    { query: solid(4, 4, [0, 0, 0]), neighbours: colours.slice(0, 2).map((c) => ({ image: solid(4, 4, c) })) },
  ];
  const options = { cell: 20, gap: 2, separator: 10 };
  const png = await retrievalGridPng(rows, options);
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [2 + 20 + 10 + 4 * (20 + 2), 2 + 2 * (20 + 2)], "no captions: no caption band");
  const L = retrievalLayout(2, 4, options);
  assert.deepEqual([L.width, L.height], [info.width, info.height]);
  const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)];
  assert.deepEqual(at(L.queryX + 10, L.rowY[0] + 10), [0, 0, 0], "query");
  colours.forEach((c, j) => assert.deepEqual(at(L.neighbourX[j] + 10, L.rowY[0] + 10), c, `neighbour ${j} in order`));
  assert.deepEqual(at(L.neighbourX[3] + 10, L.rowY[1] + 10), [255, 255, 255], "a short row leaves the rest blank");
  assert.deepEqual(
    at(2 + 20 + 5, L.rowY[0] + 10).map((v) => v < 128),
    [true, true, true],
    "the separator line",
  );

  const captioned = await retrievalGridPng(
    [
      {
        query: solid(4, 4, [0, 0, 0]),
        queryLabel: "cat",
        neighbours: [{ image: solid(4, 4, [9, 9, 9]), label: "cat", distance: 1.23456 }],
      },
    ],
    { cell: 30 },
  );
  const meta = await sharp(captioned).metadata();
  assert.deepEqual(
    [meta.width, meta.height],
    [4 + 30 + 16 + (30 + 4), 4 + (30 + 26 + 4)],
    "defaults: gap 4, separator 16, caption band 26",
  );
});

test("showRetrievalGrid shows the grid and writes the PNG", async () => {
  const file = join(dir, "nn", "retrieval.png");
  const { printed, result } = await quietly(() =>
    showRetrievalGrid(
      [{ query: solid(4, 4, [1, 2, 3]), queryLabel: "dog", neighbours: [{ image: solid(4, 4, [3, 2, 1]), label: "wolf", distance: 0.5 }] }],
      { file },
    ),
  );
  assert.ok(existsSync(file));
  assert.deepEqual(readFileSync(file), result.png);
  assert.match(printed, /\[0\] dog -> wolf \(0\.5\)/);
});

test("confusionMatrixSvg: N x N cells, rows actual, columns predicted, names escaped", () => {
  const names = ["cat", "dog", "<fox>"];
  const counts = [
    [5, 1, 0],
    [2, 7, 1],
    [0, 0, 4],
  ];
  const svg = confusionMatrixSvg(counts, names, { title: "val" });
  assert.equal(svg.match(/class="cell"/g)?.length, 9);
  assert.match(svg, /<title>dog → cat: 2 \(20\.0% of dog\)<\/title>/, "row = actual dog, column = predicted cat");
  assert.match(svg, /&lt;fox&gt;/);
  assert.doesNotMatch(svg, /<fox>/);
  // Row colouring: the diagonal of the row-normalised matrix; 4/4 is darkest.
  assert.match(svg, /fill="rgb\(8,48,107\)"><title>&lt;fox&gt; → &lt;fox&gt;: 4/);
  const flat = confusionMatrixSvg(new Int32Array(counts.flat()), names);
  assert.equal(flat.match(/class="cell"/g)?.length, 9);
  assert.deepEqual(confusionRows(new Int32Array([1, 2, 3, 4]), 2), [
    [1, 2],
    [3, 4],
  ]);
  assert.throws(() => confusionMatrixSvg([[1, 2]], names), /expected 3x3 counts/);
  assert.equal(
    confusionMatrixSvg(
      new Int32Array(100 * 100),
      Array.from({ length: 100 }, (_, i) => `c${i}`),
    ).match(/class="cell"/g)?.length,
    10000,
  );
});

test("showConfusionMatrix writes SVG or PNG and prints the accuracy", async () => {
  const counts = [
    [3, 1],
    [0, 4],
  ];
  const svgFile = join(dir, "cm", "cm.svg");
  const { printed } = await quietly(() => showConfusionMatrix(counts, ["a", "b"], { file: svgFile }));
  assert.match(readFileSync(svgFile, "utf8"), /^<svg/);
  assert.match(printed, /2 classes, 7 of 8 correct \(87\.5%\)/);
  const pngFile = join(dir, "cm.png");
  await quietly(() => showConfusionMatrix(counts, ["a", "b"], { file: pngFile }));
  assert.equal((await sharp(pngFile).metadata()).format, "png");
});
