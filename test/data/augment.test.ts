import assert from "node:assert/strict";
import { test } from "node:test";
import {
  centerOffset,
  cropImage,
  cropRange,
  drawAlphas,
  lightingBasis,
  lightingOffset,
  pcaLighting,
  presentationDraw,
  randomCrop,
  reflect,
  subtractMean,
  tenPatchPlaces,
  tenPatches,
  writeAugmented,
} from "../../lib/data/augment";
import type { Image, PcaBasis } from "../../lib/data/augment";
import { hashSeed, mix32, permutation, Random } from "../../lib/data/random";
import { symmetricEigen } from "../../lib/data/stats";

function randomImage(height: number, width: number, channels: number, seed: number): Image<Uint8Array> {
  const r = new Random(seed);
  return { data: Uint8Array.from({ length: height * width * channels }, () => r.int(256)), height, width, channels };
}

function at(image: Image, x: number, y: number, c: number): number {
  return image.data[(y * image.width + x) * image.channels + c];
}

function meanAndStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  return { mean, std: Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length) };
}

// A covariance like ImageNet's: strongly correlated channels, in pixel units squared.
const COVARIANCE = [
  [3523, 1674, 1268],
  [1674, 3291, 1322],
  [1268, 1322, 3104],
];
const STATS: PcaBasis = (() => {
  const e = symmetricEigen(COVARIANCE);
  return { eigenvalues: e.values, eigenvectors: e.vectors };
})();

test("Random is seeded, uniform in [0,1), and normal() has mean 0 and std 1", () => {
  const a = new Random(42), b = new Random(42), c = new Random(43);
  const xs = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b.next()));
  assert.notDeepEqual(xs, Array.from({ length: 5 }, () => c.next()));
  const r = new Random(7);
  const u = Array.from({ length: 20000 }, () => r.next());
  assert.ok(u.every((x) => x >= 0 && x < 1));
  assert.ok(Math.abs(meanAndStd(u).mean - 0.5) < 0.01);
  const ints = Array.from({ length: 3000 }, () => r.int(3));
  assert.deepEqual([...new Set(ints)].sort(), [0, 1, 2]);
  const { mean, std } = meanAndStd(Array.from({ length: 20000 }, () => r.normal()));
  assert.ok(Math.abs(mean) < 0.03, `normal mean ${mean}`);
  assert.ok(Math.abs(std - 1) < 0.02, `normal std ${std}`);
  assert.throws(() => new Random(1.5), /seed must be an integer/);
});

test("hashSeed depends on every part and on their order; mix32 is a 32-bit bijection's output", () => {
  assert.equal(hashSeed(1, 2, 3), hashSeed(1, 2, 3));
  assert.notEqual(hashSeed(1, 2), hashSeed(2, 1));
  assert.notEqual(hashSeed(1, 2), hashSeed(1, 2, 0));
  assert.notEqual(hashSeed(0, 0, 2 ** 32), hashSeed(0, 0, 0));
  const seen = new Set(Array.from({ length: 10000 }, (_, i) => hashSeed(5, 0, i)));
  assert.equal(seen.size, 10000);
  assert.ok(Number.isInteger(mix32(123)) && mix32(123) >= 0 && mix32(123) < 2 ** 32);
  assert.throws(() => hashSeed(1, 0.5), /must be integers/);
});

test("permutation covers every index once and depends on the seed", () => {
  const p = permutation(1000, 9);
  assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  assert.deepEqual(p, permutation(1000, 9));
  assert.notDeepEqual(p, permutation(1000, 10));
  assert.ok(p.some((v, i) => v !== i));
  assert.equal(permutation(0, 1).length, 0);
  assert.throws(() => permutation(-1, 1), /n must be an integer/);
});

test("crops stay inside the image: offsets 0..32 for 224 from 256, every position reachable", () => {
  assert.deepEqual(cropRange(256, 256, 224), { maxX: 32, maxY: 32 });
  assert.deepEqual(cropRange(256, 256, 227), { maxX: 29, maxY: 29 });
  assert.throws(() => cropRange(256, 256, 257), /crop size 257 is larger than the 256x256 image; use a crop of at most 256/);
  const range = cropRange(256, 256, 224);
  const xs = new Set<number>(), ys = new Set<number>();
  let flips = 0;
  const n = 4000;
  for (let i = 0; i < n; i++) {
    const d = presentationDraw(1, 0, i, range);
    assert.ok(Number.isInteger(d.x) && d.x >= 0 && d.x <= 32 && Number.isInteger(d.y) && d.y >= 0 && d.y <= 32, `draw ${i}: (${d.x}, ${d.y})`);
    xs.add(d.x);
    ys.add(d.y);
    if (d.flip) flips++;
  }
  assert.equal(xs.size, 33);
  assert.equal(ys.size, 33);
  assert.ok(Math.abs(flips / n - 0.5) < 0.03, `flip rate ${flips / n}`);
  // randomCrop takes the window it reports.
  const image = randomImage(40, 48, 3, 1);
  const r = new Random(3);
  for (let k = 0; k < 50; k++) {
    const { image: crop, x, y } = randomCrop(image, 32, r);
    assert.ok(x >= 0 && x <= 16 && y >= 0 && y <= 8);
    assert.deepEqual(crop, cropImage(image, x, y, 32));
  }
});

test("cropImage copies the window pixel for pixel and refuses one that leaves the image", () => {
  const image = randomImage(10, 12, 3, 2);
  const crop = cropImage(image, 3, 2, 5, 7);
  assert.equal(crop.height, 5);
  assert.equal(crop.width, 7);
  for (let y = 0; y < 5; y++) for (let x = 0; x < 7; x++) for (let c = 0; c < 3; c++) assert.equal(at(crop, x, y, c), at(image, x + 3, y + 2, c));
  assert.throws(() => cropImage(image, 6, 0, 5, 7), /leaves the 10x12 image; keep x in 0..5 and y in 0..5/);
  assert.throws(() => cropImage({ ...image, height: 9 }, 0, 0, 2), /needs 324/);
});

test("reflect sends pixel (x, y) to (W-1-x, y) and keeps the channel order", () => {
  const image = randomImage(6, 9, 3, 3);
  const mirrored = reflect(image);
  for (let y = 0; y < 6; y++) for (let x = 0; x < 9; x++) for (let c = 0; c < 3; c++) assert.equal(at(mirrored, 8 - x, y, c), at(image, x, y, c));
  assert.deepEqual(reflect(mirrored), image);
  assert.ok(mirrored.data instanceof Uint8Array);
});

test("PCA lighting adds [p1 p2 p3][a1 l1, a2 l2, a3 l3]^T to every pixel (checked in float64)", () => {
  const alphas = [0.13, -0.07, 0.02];
  // Independently: P has the eigenvectors as columns, offset = P (alpha * lambda).
  const P = [0, 1, 2].map((row) => [0, 1, 2].map((col) => STATS.eigenvectors[col][row]));
  const v = [0, 1, 2].map((k) => alphas[k] * STATS.eigenvalues[k]);
  const expected = P.map((row) => row[0] * v[0] + row[1] * v[1] + row[2] * v[2]);
  const offset = lightingOffset(STATS, alphas);
  offset.forEach((o, c) => assert.ok(Math.abs(o - expected[c]) < 1e-9, `channel ${c}: ${o} vs ${expected[c]}`));
  const image = randomImage(4, 5, 3, 4);
  const lit = pcaLighting(image, STATS, alphas);
  assert.ok(lit.data instanceof Float32Array);
  for (let i = 0; i < image.data.length; i++) assert.ok(Math.abs(lit.data[i] - (image.data[i] + expected[i % 3])) < 1e-3);
  assert.throws(() => lightingOffset(STATS, [1, 2]), /2 alphas for 3 principal components/);
  assert.throws(() => pcaLighting(randomImage(2, 2, 1, 1), STATS, alphas), /3 components but the image has 1 channels/);
});

test("alpha ~ N(0, 0.1): with the stddev scale, each image's shift along p_k has std 0.1 sqrt(lambda_k)", () => {
  const r = new Random(11);
  const alphas = Array.from({ length: 6000 }, () => drawAlphas(r));
  for (let k = 0; k < 3; k++) {
    const { mean, std } = meanAndStd(alphas.map((a) => a[k]));
    assert.ok(Math.abs(mean) < 0.005, `alpha ${k} mean ${mean}`);
    assert.ok(Math.abs(std - 0.1) < 0.004, `alpha ${k} std ${std}`);
  }
  const basis = lightingBasis(STATS, "stddev");
  for (let k = 0; k < 3; k++) {
    const along = alphas.map((a) => lightingOffset(basis, a).reduce((s, o, c) => s + o * STATS.eigenvectors[k][c], 0));
    const { std } = meanAndStd(along);
    const want = 0.1 * Math.sqrt(STATS.eigenvalues[k]);
    assert.ok(Math.abs(std / want - 1) < 0.04, `component ${k}: std ${std}, want ${want}`);
  }
  assert.deepEqual(lightingBasis(STATS, "eigenvalue-0to255").eigenvalues, STATS.eigenvalues);
  lightingBasis(STATS, "eigenvalue-0to1").eigenvalues.forEach((l, k) => assert.ok(Math.abs(l - STATS.eigenvalues[k] / 255) < 1e-12));
  assert.throws(() => lightingBasis(STATS, "sqrt" as never), /scale must be one of stddev, eigenvalue-0to1, eigenvalue-0to255/);
  assert.throws(() => lightingBasis({ eigenvalues: [1, 2, 3], eigenvectors: [[1, 0, 0]] }, "stddev"), /3 eigenvalues and 1 eigenvectors/);
});

test("subtractMean takes a per-pixel mean image or one value per channel", () => {
  const image = randomImage(3, 4, 3, 5);
  const meanImage = Float32Array.from({ length: 36 }, (_, i) => i * 0.5);
  const a = subtractMean(image, meanImage);
  for (let i = 0; i < 36; i++) assert.equal(a.data[i], image.data[i] - i * 0.5);
  const b = subtractMean(image, [100, 110.5, 120.25]);
  for (let i = 0; i < 36; i++) assert.equal(b.data[i], image.data[i] - [100, 110.5, 120.25][i % 3]);
  assert.throws(() => subtractMean(image, [1, 2]), /give 36 \(a 3x4x3 mean image, cropped like the image\) or 3 \(one per channel\)/);
});

test("the ten patches: TL, TR, BL, BR, centre, then the same five reflected", () => {
  const places = tenPatchPlaces(256, 256, 224);
  assert.deepEqual(
    places.map((p) => [p.x, p.y, p.flip]),
    [
      [0, 0, false],
      [32, 0, false],
      [0, 32, false],
      [32, 32, false],
      [16, 16, false],
      [0, 0, true],
      [32, 0, true],
      [0, 32, true],
      [32, 32, true],
      [16, 16, true],
    ],
  );
  assert.equal(places[4].name, "centre");
  assert.equal(places[6].name, "top-right reflected");
  assert.deepEqual(
    tenPatchPlaces(256, 256, 227).map((p) => [p.x, p.y]),
    [[0, 0], [29, 0], [0, 29], [29, 29], [14, 14], [0, 0], [29, 0], [0, 29], [29, 29], [14, 14]],
  );
  assert.equal(centerOffset(256, 224), 16);
  assert.equal(centerOffset(256, 227), 14);
  const image = randomImage(12, 14, 3, 6);
  const patches = tenPatches(image, 8);
  assert.equal(patches.length, 10);
  // Corners of a 12x14 image with 8x8 patches: x in {0, 6}, y in {0, 4}; centre (3, 2).
  const corners = [[0, 0], [6, 0], [0, 4], [6, 4], [3, 2]];
  corners.forEach(([x, y], k) => {
    assert.deepEqual(patches[k], cropImage(image, x, y, 8), `patch ${k}`);
    assert.deepEqual(patches[k + 5], reflect(patches[k]), `patch ${k + 5}`);
  });
});

test("presentationDraw is a function of (seed, epoch, index), and changes with each", () => {
  const range = { maxX: 32, maxY: 32 };
  assert.deepEqual(presentationDraw(1, 2, 3, range), presentationDraw(1, 2, 3, range));
  const base = JSON.stringify(presentationDraw(1, 2, 3, range));
  assert.notEqual(JSON.stringify(presentationDraw(1, 3, 3, range)), base);
  assert.notEqual(JSON.stringify(presentationDraw(1, 2, 4, range)), base);
  assert.notEqual(JSON.stringify(presentationDraw(2, 2, 3, range)), base);
  assert.ok(presentationDraw(1, 2, 3, range, 0).alphas.every((a) => a === 0));
});

test("writeAugmented equals crop, reflect, lighting and mean subtraction done one at a time", () => {
  for (const channels of [3, 1]) {
    const record = randomImage(20, 24, channels, 7);
    const src = new Uint8Array(10 + record.data.length);
    src.set(record.data, 10); // the record sits at an offset, as after a label
    const meanImage = Float32Array.from({ length: record.data.length }, (_, i) => 100 + (i % 17));
    const channelMean = Float32Array.from({ length: channels }, (_, c) => 90 + 10 * c);
    const shift = Array.from({ length: channels }, (_, c) => 3.25 - 2 * c);
    // 16 columns run the unrolled loop only; 19 = 4*4 + 3 also runs the one-pixel tail.
    for (const [x, y, h, w] of [[5, 3, 12, 16], [2, 1, 9, 19]]) {
      for (const flip of [false, true]) {
        for (const mean of [meanImage, channelMean, undefined]) {
          const dst = new Float32Array(7 + h * w * channels).fill(-999);
          writeAugmented(src, 10, [20, 24, channels], { x, y, height: h, width: w, flip }, shift, mean, dst, 7);
          // Reference: the paper's order on the whole image, then crop, then mirror.
          let ref: Image = { data: Float32Array.from(record.data, (v, i) => v + shift[i % channels]), height: 20, width: 24, channels };
          if (mean) ref = subtractMean(ref, mean);
          ref = cropImage(ref, x, y, h, w);
          if (flip) ref = reflect(ref);
          assert.equal(dst[6], -999, "nothing written before the offset");
          for (let i = 0; i < ref.data.length; i++) assert.ok(Math.abs(dst[7 + i] - ref.data[i]) < 1e-4, `C=${channels} ${w} wide flip=${flip} mean=${mean?.length} value ${i}: ${dst[7 + i]} vs ${ref.data[i]}`);
        }
      }
    }
  }
  const dst = new Float32Array(8 * 8 * 3);
  const src = new Uint8Array(10 * 10 * 3);
  assert.throws(() => writeAugmented(src, 0, [10, 10, 3], { x: 3, y: 0, height: 8, width: 8, flip: false }, undefined, undefined, dst, 0), /must lie inside the 10x10 record/);
  assert.throws(() => writeAugmented(src, 0, [10, 10, 3], { x: 0, y: 0, height: 8, width: 8, flip: false }, undefined, undefined, dst, 1), /do not fit in dst/);
  assert.throws(() => writeAugmented(src, 0, [10, 10, 3], { x: 0, y: 0, height: 8, width: 8, flip: false }, undefined, new Float32Array(5), dst, 0), /give 300 \(per pixel\) or 3 \(per channel\)/);
});
