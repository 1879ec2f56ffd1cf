import assert from "node:assert/strict";
import { Random } from "../../lib/data/random";
import { test } from "node:test";
import { accumulate, emptyStats, finalizeStats, mergeStats, symmetricEigen } from "../../lib/data/stats";
import type { ImageShape, PartialStats } from "../../lib/data/stats";

function rng(seed: number): () => number {
  const random = new Random(seed);
  return () => random.next();
}

/** Random images whose channels are correlated, so the covariance has structure. */
function images(count: number, shape: ImageShape, seed: number): Uint8Array[] {
  const random = rng(seed);
  const [h, w, c] = shape;
  return Array.from({ length: count }, () => {
    const img = new Uint8Array(h * w * c);
    for (let p = 0; p < h * w; p++) {
      const base = random() * 200;
      for (let k = 0; k < c; k++) img[p * c + k] = Math.min(255, Math.round(base * (0.5 + 0.3 * k) + random() * 55));
    }
    return img;
  });
}

function statsOf(imgs: Uint8Array[], shape: ImageShape): PartialStats {
  const s = emptyStats(shape);
  for (const img of imgs) accumulate(s, img);
  return s;
}

function matMul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}

function transpose(a: number[][]): number[][] {
  return a[0].map((_, j) => a.map((row) => row[j]));
}

function assertClose(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tolerance ${tol})`);
}

test("mean image, channel mean and covariance match a direct two-pass computation", () => {
  const shape: ImageShape = [5, 4, 3];
  const imgs = images(7, shape, 1);
  const stats = finalizeStats(statsOf(imgs, shape));
  assert.equal(stats.images, 7);
  assert.equal(stats.pixels, 7 * 5 * 4);

  const n = 5 * 4 * 3;
  for (let i = 0; i < n; i++) assertClose(stats.meanImage[i], imgs.reduce((s, img) => s + img[i], 0) / 7, 1e-4, `meanImage[${i}]`);

  const values = imgs.flatMap((img) => Array.from({ length: 20 }, (_, p) => [img[p * 3], img[p * 3 + 1], img[p * 3 + 2]]));
  const mean = [0, 1, 2].map((k) => values.reduce((s, v) => s + v[k], 0) / values.length);
  for (let k = 0; k < 3; k++) assertClose(stats.channelMean[k], mean[k], 1e-9, `channelMean[${k}]`);
  for (let j = 0; j < 3; j++) {
    for (let k = 0; k < 3; k++) {
      const cov = values.reduce((s, v) => s + (v[j] - mean[j]) * (v[k] - mean[k]), 0) / values.length;
      assertClose(stats.covariance[j][k], cov, 1e-8, `covariance[${j}][${k}]`);
    }
  }
  // The covariance's eigen-decomposition reconstructs it.
  const { eigenvalues: l, eigenvectors: p } = stats;
  const rebuilt = matMul(transpose(p), matMul(l.map((v, i) => l.map((_, j) => (i === j ? v : 0))), p));
  for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) assertClose(rebuilt[j][k], stats.covariance[j][k], 1e-8, `rebuilt[${j}][${k}]`);
});

test("the general channel path agrees with a two-pass computation (1 and 4 channels)", () => {
  for (const c of [1, 4]) {
    const shape: ImageShape = [3, 3, c];
    const imgs = images(4, shape, 10 + c);
    const stats = finalizeStats(statsOf(imgs, shape));
    const values = imgs.flatMap((img) => Array.from({ length: 9 }, (_, p) => Array.from(img.subarray(p * c, p * c + c))));
    const mean = Array.from({ length: c }, (_, k) => values.reduce((s, v) => s + v[k], 0) / values.length);
    for (let j = 0; j < c; j++) {
      for (let k = 0; k < c; k++) {
        const cov = values.reduce((s, v) => s + (v[j] - mean[j]) * (v[k] - mean[k]), 0) / values.length;
        assertClose(stats.covariance[j][k], cov, 1e-8, `c=${c} covariance[${j}][${k}]`);
      }
    }
  }
});

test("mergeStats(a, b) equals the statistics of the union, exactly", () => {
  const shape: ImageShape = [6, 6, 3];
  const imgs = images(9, shape, 2);
  const a = statsOf(imgs.slice(0, 4), shape);
  const b = statsOf(imgs.slice(4), shape);
  const aBefore = a.pixelSum.slice();
  const merged = mergeStats(a, b);
  const union = statsOf(imgs, shape);
  assert.deepEqual(merged, union);
  assert.deepEqual(mergeStats(b, a), union, "order does not matter");
  assert.deepEqual(a.pixelSum, aBefore, "inputs are not changed");
  assert.deepEqual(finalizeStats(merged), finalizeStats(union));
});

test("bad input is refused with a reason", () => {
  const s = emptyStats([2, 2, 3]);
  assert.throws(() => accumulate(s, new Uint8Array(11)), /11 values, expected 2x2x3 = 12/);
  assert.throws(() => mergeStats(s, emptyStats([2, 3, 3])), /shapes differ \(2x2x3 vs 2x3x3\)/);
  assert.throws(() => finalizeStats(s), /no images/);
  assert.throws(() => emptyStats([2, 0, 3]), /positive integers/);
});

test("symmetricEigen: a diagonal matrix gives its diagonal, sorted, and unit axes", () => {
  const { values, vectors } = symmetricEigen([
    [2, 0, 0],
    [0, 5, 0],
    [0, 0, 1],
  ]);
  assert.deepEqual(values, [5, 2, 1]);
  assert.deepEqual(vectors, [
    [0, 1, 0],
    [1, 0, 0],
    [0, 0, 1],
  ]);
});

test("symmetricEigen: A = R diag(9, 4, 0.25) R^T recovers the eigenvalues and R's columns", () => {
  // A rotation built from two Givens rotations, so no eigenvector lies on an axis.
  const a1 = 0.7, a2 = -1.1;
  const rz = [[Math.cos(a1), -Math.sin(a1), 0], [Math.sin(a1), Math.cos(a1), 0], [0, 0, 1]];
  const rx = [[1, 0, 0], [0, Math.cos(a2), -Math.sin(a2)], [0, Math.sin(a2), Math.cos(a2)]];
  const r = matMul(rz, rx);
  const d = [9, 4, 0.25];
  const a = matMul(matMul(r, d.map((v, i) => d.map((_, j) => (i === j ? v : 0)))), transpose(r));
  const { values, vectors } = symmetricEigen(a);
  values.forEach((v, i) => assertClose(v, d[i], 1e-12, `eigenvalue ${i}`));
  for (let k = 0; k < 3; k++) {
    const column = r.map((row) => row[k]);
    const dot = column.reduce((s, x, i) => s + x * vectors[k][i], 0);
    assertClose(Math.abs(dot), 1, 1e-12, `eigenvector ${k} is R's column ${k} up to sign`);
    // Sign convention: the largest-magnitude entry is positive.
    const big = vectors[k].reduce((m, x) => (Math.abs(x) > Math.abs(m) ? x : m), 0);
    assert.ok(big > 0, `eigenvector ${k} has its largest entry positive`);
    // A v = lambda v.
    const av = a.map((row) => row.reduce((s, x, i) => s + x * vectors[k][i], 0));
    av.forEach((x, i) => assertClose(x, values[k] * vectors[k][i], 1e-12, `A v[${k}] entry ${i}`));
  }
});

test("symmetricEigen: eigenvectors are orthonormal, also with repeated eigenvalues", () => {
  const random = rng(3);
  const cases: number[][][] = [
    [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ],
    [
      [2, 1, 1],
      [1, 2, 1],
      [1, 1, 2],
    ], // eigenvalues 4, 1, 1
  ];
  for (let t = 0; t < 20; t++) {
    const m = Array.from({ length: 4 }, () => Array.from({ length: 4 }, () => random() * 2 - 1));
    cases.push(matMul(m, transpose(m))); // symmetric positive semi-definite, 4x4
  }
  for (const a of cases) {
    const { values, vectors } = symmetricEigen(a);
    for (let i = 1; i < values.length; i++) assert.ok(values[i - 1] >= values[i], `sorted descending: ${values}`);
    for (const v of vectors) {
      const big = v.reduce((m, x) => (Math.abs(x) > Math.abs(m) + 1e-12 ? x : m), 0);
      assert.ok(big > 0, `largest-magnitude entry positive: ${v}`);
    }
    const gram = matMul(vectors, transpose(vectors));
    gram.forEach((row, i) => row.forEach((x, j) => assertClose(x, i === j ? 1 : 0, 1e-12, `V V^T [${i}][${j}]`)));
    const trace = a.reduce((s, row, i) => s + row[i], 0);
    assertClose(values.reduce((s, v) => s + v, 0), trace, 1e-12, "sum of eigenvalues is the trace");
  }
  const { values } = symmetricEigen(cases[1]);
  values.forEach((v, i) => assertClose(v, [4, 1, 1][i], 1e-12, `eigenvalue ${i}`));
});

test("symmetricEigen refuses matrices it cannot decompose", () => {
  assert.throws(() => symmetricEigen([[1, 2], [3, 4]]), /not symmetric/);
  assert.throws(() => symmetricEigen([[1, 2], [2]]), /square/);
  assert.throws(() => symmetricEigen([[1, NaN], [NaN, 1]]), /non-finite/);
});

test("accumulate gives the exact integer sums of a naive loop, across its int32 blocks", () => {
  // 100x100 = 10,000 pixels spans two of accumulate's 8192-pixel blocks; all-255
  // pixels make the largest products, random ones catch a wrong channel or offset.
  const shape: ImageShape = [100, 100, 3];
  const imgs = [new Uint8Array(100 * 100 * 3).fill(255), ...images(2, shape, 11)];
  const s = statsOf(imgs, shape);
  const channelSum = [0, 0, 0];
  const crossSum = new Array<number>(9).fill(0);
  const pixelSum = new Float64Array(100 * 100 * 3);
  for (const img of imgs) {
    for (let i = 0; i < img.length; i++) pixelSum[i] += img[i];
    for (let p = 0; p < img.length; p += 3) {
      for (let j = 0; j < 3; j++) {
        channelSum[j] += img[p + j];
        for (let k = 0; k < 3; k++) crossSum[j * 3 + k] += img[p + j] * img[p + k];
      }
    }
  }
  assert.deepEqual(s.channelSum, channelSum);
  assert.deepEqual(s.crossSum, crossSum);
  assert.deepEqual(s.pixelSum, pixelSum);
});
