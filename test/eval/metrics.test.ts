import assert from "node:assert/strict";
import { test } from "node:test";
import { averageViews, ConfusionMatrix, labelRank, logMeanSoftmax, softmax, topK, topKErrors } from "../../lib/eval/metrics";

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `[${i}] ${a[i]} vs ${b[i]}`);
};

test("softmax: rows sum to 1, large logits do not overflow, and it matches the definition", () => {
  const p = softmax([1, 2, 3, 1000, 1000, 0], 3);
  const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
  const s = e[0] + e[1] + e[2];
  close(p.subarray(0, 3), [e[0] / s, e[1] / s, e[2] / s]);
  close(p.subarray(3), [0.5, 0.5, 0]);
  assert.throws(() => softmax([1, 2, 3, 4], 3), /whole number of rows/);
});

test("topK: descending probability, ties to the lower class, k past the number of classes gives every class", () => {
  const row = [0.1, 0.3, 0.2, 0.3, 0.1];
  assert.deepEqual(topK(row, 1), [1]);
  assert.deepEqual(topK(row, 2), [1, 3]);
  assert.deepEqual(topK(row, 3), [1, 3, 2]);
  assert.deepEqual(topK(row, 5), [1, 3, 2, 0, 4]);
  assert.deepEqual(topK(row, 9), [1, 3, 2, 0, 4]);
  assert.deepEqual(topK(row, 0), []);
  assert.deepEqual(topK([0.25, 0.25, 0.25, 0.25], 2), [0, 1]);
  // The order agrees with labelRank.
  for (let c = 0; c < row.length; c++) assert.equal(topK(row, 5).indexOf(c), labelRank(row, c));
});

test("topKErrors: known answers, ties and k larger than the number of classes", () => {
  const probs = [
    0.7,
    0.2,
    0.1, // label 0: top-1 right
    0.5,
    0.3,
    0.2, // label 2: rank 2, wrong at top-1 and top-2
    0.4,
    0.4,
    0.2, // label 1: tied with class 0, which wins the tie: rank 1
    0.2,
    0.3,
    0.5, // label 1: rank 1
  ];
  const labels = [0, 2, 1, 1];
  assert.deepEqual(topKErrors(probs, labels, 3, [1, 2, 3, 5]), [3 / 4, 1 / 4, 0, 0]);
  assert.deepEqual(topKErrors(probs, labels, 3), [3 / 4, 0]);
  // A tie broken the other way: label 0 wins against class 1.
  assert.deepEqual(topKErrors([0.4, 0.4, 0.2], [0], 3, [1]), [0]);
  assert.throws(() => topKErrors(probs, [0, 1, 2], 3), /4 rows of probabilities but 3 labels/);
  assert.throws(() => topKErrors(probs, [0, 1, 2, 3], 3), /outside 0..2/);
});

test("averageViews: the ten-patch mean can change the top-1 prediction that the centre patch alone gets wrong", () => {
  // One image, 3 views, 3 classes; the label is 1. The first view (say, the centre) prefers class 0.
  const probs = Float32Array.from([0.5, 0.4, 0.1, 0.2, 0.7, 0.1, 0.3, 0.6, 0.1]);
  const mean = averageViews(probs, 1, 3, 3);
  close(mean, [1 / 3, 1.7 / 3, 0.1]);
  assert.deepEqual(topKErrors(probs.subarray(0, 3), [1], 3, [1]), [1]);
  assert.deepEqual(topKErrors(mean, [1], 3, [1]), [0]);
  // Two images of two views: each image averages its own rows only.
  close(averageViews([1, 0, 0, 1, 0.2, 0.8, 0.4, 0.6], 2, 2, 2), [0.5, 0.5, 0.3, 0.7]);
  assert.throws(() => averageViews(probs, 2, 3, 3), /need 18/);
});

test("logMeanSoftmax is the log of the view-averaged softmax, also where the probability underflows", () => {
  const logits = [2, 0, -1, 0, 3, 1];
  const p = averageViews(softmax(logits, 3), 1, 2, 3);
  for (let c = 0; c < 3; c++) assert.ok(Math.abs(logMeanSoftmax(logits, 0, 2, 3, c) - Math.log(p[c])) < 1e-6);
  // softmax gives exactly 0 here; the log-domain value stays finite: log(mean(e^-1000, e^-2000)) ≈ -1000 - log 2.
  const far = [1000, 0, 2000, 0];
  assert.ok(Math.abs(logMeanSoftmax(far, 0, 2, 2, 1) - (-1000 - Math.log(2))) < 1e-9);
});

test("ConfusionMatrix: counts, per-class accuracy and the most confused pairs, one-way and both ways", () => {
  const m = new ConfusionMatrix(4);
  const pairs: [number, number][] = [
    [0, 0],
    [0, 0],
    [0, 1], // class 0: 2 of 3 right
    [1, 1],
    [1, 0],
    [1, 0],
    [1, 2], // class 1: 1 of 4
    [2, 2],
    [2, 1],
    [2, 1], // class 2: 1 of 3
  ];
  for (const [a, p] of pairs) m.add(a, p);
  assert.equal(m.total, 10);
  assert.equal(m.get(1, 0), 2);
  assert.deepEqual([...m.support()], [3, 4, 3, 0]);
  const acc = m.perClassAccuracy();
  close(acc.subarray(0, 3), [2 / 3, 1 / 4, 1 / 3]);
  assert.ok(Number.isNaN(acc[3]), "a class with no images has no accuracy");
  // One-way: 1→0 (2) and 2→1 (2) tie, the lower actual class first; then 0→1 and 1→2 (1 each).
  assert.deepEqual(m.mostConfused(3), [
    { actual: 1, predicted: 0, count: 2 },
    { actual: 2, predicted: 1, count: 2 },
    { actual: 0, predicted: 1, count: 1 },
  ]);
  // Both ways: 0↔1 = 1 + 2 = 3, 1↔2 = 1 + 2 = 3, nothing else; zero pairs are left out.
  assert.deepEqual(m.mostConfused(10, { symmetric: true }), [
    { actual: 0, predicted: 1, count: 3 },
    { actual: 1, predicted: 2, count: 3 },
  ]);
  const other = new ConfusionMatrix(4);
  other.add(3, 3);
  m.merge(other);
  assert.equal(m.perClassAccuracy()[3], 1);
  assert.throws(() => m.add(4, 0), /outside 0..3/);
  assert.throws(() => m.merge(new ConfusionMatrix(3)), /3 classes into 4/);
});
