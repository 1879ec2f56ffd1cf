import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { selectEngine } from "../../lib/engine/select";
import { buildAlexNet } from "../../lib/model/alexnet";
import {
  type Conv1Kernels,
  colourfulness,
  conv1Kernels,
  filterMosaic,
  filterWeights,
  mosaicLayout,
  showConv1Filters,
  towerColourStats,
} from "../../lib/viz/filters";

before(async () => {
  await selectEngine({ force: "wasm" });
});

const dir = mkdtempSync(join(tmpdir(), "filters-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("mosaicLayout: 96 filters in 2 towers of 6 rows x 8 columns, GPU 2's block below GPU 1's", () => {
  const L = mosaicLayout(96, 2, { columns: 8, gap: 1, towerGap: 10, cell: 44 });
  const block = 6 * 44 + 5 * 1;
  assert.deepEqual([L.columns, L.rows, L.places.length], [8, 6, 96]);
  assert.deepEqual([L.width, L.height], [1 + 8 * 44 + 7 + 1, 1 + block + 10 + block + 1]);
  assert.deepEqual(L.places[0], { filter: 0, tower: 0, x: 1, y: 1 });
  assert.deepEqual(L.places[9], { filter: 9, tower: 0, x: 1 + 45, y: 1 + 45 }, "row-major: filter 9 is row 1, column 1");
  assert.deepEqual(L.places[47], { filter: 47, tower: 0, x: 1 + 7 * 45, y: 1 + 5 * 45 });
  assert.deepEqual(L.places[48], { filter: 48, tower: 1, x: 1, y: 1 + block + 10 }, "tower 2 starts a new block after the tower gap");
  assert.deepEqual(L.places[95], { filter: 95, tower: 1, x: 1 + 7 * 45, y: 1 + block + 10 + 5 * 45 });
  const distinct = new Set(L.places.map((p) => `${p.x},${p.y}`));
  assert.equal(distinct.size, 96, "no two filters share a place");
});

test("mosaicLayout: 64 filters in one tower, 16 columns by default; uneven towers are refused", () => {
  const L = mosaicLayout(64, 1, { gap: 2, towerGap: 50, cell: 10 });
  assert.deepEqual([L.columns, L.rows, L.width, L.height], [16, 4, 2 + 16 * 10 + 15 * 2 + 2, 2 + 4 * 10 + 3 * 2 + 2]);
  assert.deepEqual(L.places[17], { filter: 17, tower: 0, x: 2 + 12, y: 2 + 12 });
  assert.deepEqual(mosaicLayout(12, 2, { gap: 0, towerGap: 0, cell: 1 }).columns, 6, "columns never exceed a tower's filters");
  assert.throws(() => mosaicLayout(95, 2, { gap: 1, towerGap: 1, cell: 1 }), /do not split into 2 equal towers/);
});

/** Two 2x2 RGB filters in tfjs layout [kh, kw, in, out]; filter 0 spans -1..1, filter 1 spans 10..20. */
function twoFilters(): Conv1Kernels {
  const f0 = [-1, 0, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 1]; // HWC: pixel (0,0) = (-1, 0, 0.5), pixel (1,1) = (0, 0, 1)
  const f1 = [10, 20, 15, 10, 10, 10, 10, 10, 10, 10, 10, 10];
  const kernels = new Float32Array(24);
  for (let i = 0; i < 12; i++) [kernels[i * 2], kernels[i * 2 + 1]] = [f0[i], f1[i]];
  return { kernels, size: 2, inChannels: 3, count: 2, towers: 2 };
}

test("filterWeights unpacks one filter from the [kh, kw, in, out] kernel", () => {
  assert.deepEqual([...filterWeights(twoFilters(), 1)], [10, 20, 15, 10, 10, 10, 10, 10, 10, 10, 10, 10]);
});

test("filterMosaic stretches each filter to 0..255 and enlarges each weight to scale x scale pixels", () => {
  const k = twoFilters();
  const img = filterMosaic(k, { scale: 3, gap: 1, towerGap: 5, background: 200 });
  // One column per tower block: filter 0 at (1, 1), filter 1 at (1, 1 + 6 + 5).
  assert.deepEqual([img.width, img.height, img.channels], [1 + 6 + 1, 1 + 6 + 5 + 6 + 1, 3]);
  const at = (x: number, y: number) => [...img.pixels.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];
  assert.deepEqual(at(1, 1), [0, 128, 191], "filter 0, weight (0,0): -1 -> 0, 0 -> 127.5, 0.5 -> 191.25");
  assert.deepEqual(at(3, 3), [0, 128, 191], "the same weight fills its 3x3 block");
  assert.deepEqual(at(4, 4), [128, 128, 255], "filter 0, weight (1,1): its max 1 -> 255");
  assert.deepEqual(at(1, 12), [0, 255, 128], "filter 1's own range 10..20 -> 0..255");
  assert.deepEqual(at(0, 0), [200, 200, 200], "margin");
  assert.deepEqual(at(3, 9), [200, 200, 200], "tower gap");
  const global = filterMosaic(k, { scale: 1, gap: 0, towerGap: 0, normalise: "global" });
  assert.deepEqual([...global.pixels.subarray(0, 3)], [0, 12, 18], "global: one range -1..20 for all filters");
  assert.deepEqual([...global.pixels.subarray(12, 15)], [134, 255, 194], "filter 1's (0,0) = (10, 20, 15)");
});

test("colourfulness: 0 for grey kernels, 1 for pure red, in between for a random one", () => {
  const n = 11 * 11;
  let s = 7;
  const rand = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const grey = new Float32Array(n * 3);
  const red = new Float32Array(n * 3);
  const redPattern = new Float32Array(n * 3);
  const random = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    grey.fill(rand() - 0.5, i * 3, i * 3 + 3);
    red[i * 3] = 1;
    redPattern[i * 3] = rand();
  }
  random.forEach((_, i) => (random[i] = rand()));
  assert.ok(colourfulness(grey) < 1e-6, `grey ${colourfulness(grey)}`);
  assert.ok(Math.abs(colourfulness(red) - 1) < 1e-6, `red ${colourfulness(red)}`);
  assert.ok(colourfulness(redPattern) > 0.4, `red pattern ${colourfulness(redPattern)}`);
  const r = colourfulness(random);
  assert.ok(r > 0.2 && r < 0.8, `random ${r}`);
  assert.equal(colourfulness(new Float32Array(6).fill(3)), 0, "a constant kernel");
});

test("conv1Kernels: mini has 24 filters in 2 towers, read straight from conv1's kernel", () => {
  const model = buildAlexNet("mini", { seed: 5 });
  const k = conv1Kernels(model);
  assert.deepEqual([k.size, k.inChannels, k.count, k.towers, k.kernels.length], [11, 3, 24, 2, 11 * 11 * 3 * 24]);
  const fromTf = tf.tidy(() => (model.getLayer("conv1").getWeights()[0] as tf.Tensor4D).slice([0, 0, 0, 13], [11, 11, 3, 1]).dataSync());
  assert.deepEqual([...filterWeights(k, 13)], [...fromTf]);
  model.getLayer("conv1").getWeights()[0].dataSync(); // still alive: conv1Kernels must not dispose the variable
  model.dispose();
});

test("conv1Kernels: torchvision has 64 filters in one tower", () => {
  // Small fc layers keep the build quick; conv1 is the full 64-filter one.
  const model = buildAlexNet("torchvision", { fcUnits: 16, numClasses: 4 });
  const k = conv1Kernels(model);
  assert.deepEqual([k.size, k.inChannels, k.count, k.towers], [11, 3, 64, 1]);
  model.dispose();
});

test("towerColourStats tells a grey tower from a coloured one", () => {
  const model = buildAlexNet("mini", { seed: 5 });
  const layer = model.getLayer("conv1");
  const [kernel, bias] = layer.getWeights();
  const values = Float32Array.from(kernel.dataSync());
  // Filters 0..11 (GPU 1): the red value copied into green and blue. Filters 12..23 keep independent channels.
  for (let px = 0; px < 121; px++)
    for (let f = 0; f < 12; f++) for (const c of [1, 2]) values[(px * 3 + c) * 24 + f] = values[px * 3 * 24 + f];
  layer.setWeights([tf.tensor4d(values, kernel.shape as [number, number, number, number]), bias]);
  const stats = towerColourStats(model);
  assert.equal(stats.scores.length, 24);
  assert.deepEqual(
    stats.towers.map((t) => [t.tower, t.firstFilter, t.filters]),
    [
      [1, 0, 12],
      [2, 12, 12],
    ],
  );
  assert.ok(stats.towers[0].mean < 1e-6, `GPU 1 ${stats.towers[0].mean}`);
  assert.ok(stats.towers[1].mean > 0.2, `GPU 2 ${stats.towers[1].mean}`);
  model.dispose();
});

test("showConv1Filters shows the mosaic and writes the PNG", async () => {
  const model = buildAlexNet("mini", { seed: 5 });
  const printed: string[] = [];
  const log = console.log;
  console.log = (t: string) => printed.push(t);
  try {
    const file = join(dir, "sub", "conv1.png");
    const { png, stats } = await showConv1Filters(model, { title: "mini conv1", file, scale: 2, columns: 6 });
    assert.ok(existsSync(file));
    const meta = await sharp(file).metadata();
    const L = mosaicLayout(24, 2, { columns: 6, gap: 2, towerGap: 8, cell: 22 });
    assert.deepEqual([meta.width, meta.height], [L.width, L.height]);
    assert.equal((await sharp(png).metadata()).width, L.width);
    assert.equal(stats.towers.length, 2);
    assert.match(
      printed.join("\n"),
      /mini conv1: 24 conv1 kernels 11x11x3[\s\S]*GPU 1 \(filters 0-11\): colourfulness 0\.\d{3}[\s\S]*GPU 2 \(filters 12-23\)/,
    );
  } finally {
    console.log = log;
    model.dispose();
  }
});
