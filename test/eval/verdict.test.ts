import assert from "node:assert/strict";
import { test } from "node:test";
import { containsPaper, mcnemarP, pairedImages, seedDifference, seedLogRatio, seedsToResolve, verdictOf } from "../../lib/eval/verdict";

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);

test("verdictOf reads the interval against zero and the paper's sign", () => {
  // LRN lowers top-1 error by 1.4 points in the paper: a negative effect.
  assert.equal(verdictOf({ mean: -0.02, low: -0.03, high: -0.01 }, -0.014), "reproduced");
  assert.equal(verdictOf({ mean: 0.02, low: 0.01, high: 0.03 }, -0.014), "opposite");
  assert.equal(verdictOf({ mean: 0.005, low: -0.01, high: 0.02 }, -0.014), "below resolution");
  assert.equal(verdictOf({ mean: 0.02, low: NaN, high: NaN }, 0.014), "below resolution", "one seed has no interval");
  assert.throws(() => verdictOf({ mean: 0, low: 0, high: 0 }, 0), /non-zero/);
  assert.equal(containsPaper({ mean: -0.02, low: -0.03, high: -0.01 }, -0.014), true);
  assert.equal(containsPaper({ mean: -0.05, low: -0.06, high: -0.04 }, -0.014), false, "right sign, wrong size");
});

test("seedDifference: a zero effect is below resolution, however many seeds", () => {
  const control = [0.31, 0.28, 0.3, 0.33, 0.29, 0.3];
  const same = seedDifference(control, control, -0.014);
  assert.equal(same.mean, 0);
  assert.equal(same.verdict, "below resolution");
  // Noise around zero: per-seed differences +1, -1, 0 points.
  const noisy = seedDifference([0.3, 0.3, 0.3], [0.31, 0.29, 0.3], -0.014);
  close(noisy.mean, 0);
  assert.deepEqual(
    noisy.perSeed.map((x) => Math.round(1000 * x)),
    [10, -10, 0],
  );
  assert.equal(noisy.verdict, "below resolution");
});

test("seedDifference: a consistent effect of the paper's sign is reproduced, of the other sign opposite", () => {
  const control = [0.3, 0.32, 0.28];
  const lower = seedDifference(
    control,
    control.map((x, i) => x - 0.02 - 0.001 * i),
    -0.014,
  );
  assert.equal(lower.verdict, "reproduced");
  assert.ok(lower.high < 0);
  const higher = seedDifference(
    control,
    control.map((x, i) => x + 0.02 + 0.001 * i),
    -0.014,
  );
  assert.equal(higher.verdict, "opposite");
  assert.equal(higher.containsPaper, false);
});

test("seedsToResolve: the smallest n whose t half-width is below the paper's effect", () => {
  // sd 1.3 points, effect 2.4: n = 3 gives 4.303 * 1.3 / sqrt 3 = 3.23 > 2.4; n = 4 gives 3.182 * 1.3 / 2 = 2.07.
  assert.equal(seedsToResolve(0.013, 0.024), 4);
  assert.equal(seedsToResolve(NaN, 0.024), undefined);
  assert.equal(seedsToResolve(0, 0.024), 2);
  assert.equal(seedsToResolve(1, 0.001, 50), Infinity);
  // At that n, per-seed differences of mean 2.4 and sd 1.3 points do exclude zero.
  const spread = 0.013 * Math.sqrt(3 / 4); // +-spread over 4 values has sample sd 0.013
  const d = seedDifference([0, 0, 0, 0], [0.024 - spread, 0.024 + spread, 0.024 - spread, 0.024 + spread], 0.024);
  close(d.sd, 0.013);
  assert.ok(d.low > 0, `${d.low}`);
});

test("seedLogRatio: ratio claims on the log scale; 6x exactly contains the paper's 6x", () => {
  const relu = [100, 200, 400];
  const tanh = relu.map((x) => 6 * x);
  const r = seedLogRatio(relu, tanh, 6);
  close(r.mean, Math.log(6));
  close(r.ratio!.mean, 6);
  assert.equal(r.verdict, "reproduced");
  assert.equal(r.containsPaper, true);
  // Equal steps: the log-ratio is 0, below resolution; twice as fast the other way: opposite.
  assert.equal(seedLogRatio(relu, relu, 6).verdict, "below resolution");
  assert.equal(seedLogRatio(relu, [51, 99, 205], 6).verdict, "opposite");
  assert.throws(() => seedLogRatio([0, 1], [1, 2], 6), /positive/);
  assert.throws(() => seedLogRatio([1, 2], [1, 2], 1), /not 1/);
});

test("mcnemarP is the exact binomial test on the discordant images", () => {
  assert.equal(mcnemarP(0, 0), 1);
  close(mcnemarP(10, 0), 2 / 1024);
  close(mcnemarP(1, 9), 22 / 1024);
  assert.equal(mcnemarP(5, 5), 1);
  // Symmetric in which side won.
  close(mcnemarP(3, 12), mcnemarP(12, 3));
});

test("pairedImages: fixed and broken counts, a Wald interval, and the images that would resolve the paper", () => {
  // 100 images: the control misses 0..19, the treatment 10..24: 10 fixed, 5 broken.
  const pattern = (n: number, from: number, to: number) => Array.from({ length: n }, (_, i) => i % 100 >= from && i % 100 < to);
  const e = pairedImages([pattern(100, 0, 20)], [pattern(100, 10, 25)], -0.05);
  assert.equal(e.fixed, 10);
  assert.equal(e.broken, 5);
  close(e.mean, -0.05);
  const half = (1.96 * Math.sqrt(0.15 - 0.0025)) / 10;
  close(e.low, -0.05 - half);
  close(e.high, -0.05 + half);
  assert.equal(e.verdict, "below resolution");
  assert.equal(e.imagesToResolve, Math.ceil((1.96 ** 2 * (0.15 - 0.0025)) / 0.0025));
  // Three times the images, the same pattern: past that estimate, and resolved.
  const big = pairedImages([pattern(300, 0, 20)], [pattern(300, 10, 25)], -0.05);
  assert.ok(big.images > e.imagesToResolve);
  assert.equal(big.verdict, "reproduced");
  assert.ok(big.p < 0.05 && e.p > 0.05, `${big.p} ${e.p}`);
  // The same answers both ways: zero effect, below resolution.
  const none = pairedImages([pattern(100, 0, 20)], [pattern(100, 0, 20)], -0.01);
  assert.equal(none.mean, 0);
  assert.equal(none.verdict, "below resolution");
  assert.equal(none.imagesToResolve, Infinity, "no image changes its answer: no number of images shows an effect");
  assert.throws(() => pairedImages([[true]], [[true, false]], -0.01), /same images/);
  assert.throws(() => pairedImages([[true]], [], -0.01), /one of each per seed/);
  // Five images fixed, none broken, of 1,000: Wald's interval excludes zero, the exact test (p = 1/16) does not.
  const few = pairedImages([Array.from({ length: 1000 }, (_, i) => i < 5)], [Array.from({ length: 1000 }, () => false)], -0.005);
  assert.ok(few.high < 0, `${few.high}`);
  close(few.p, 0.0625);
  assert.equal(few.verdict, "below resolution", "a handful of discordant images cannot make a verdict");
  // Seeds are not more images: two models with the same answers are one image sheet's worth of evidence.
  const twice = pairedImages([pattern(100, 0, 20), pattern(100, 0, 20)], [pattern(100, 10, 25), pattern(100, 10, 25)], -0.05);
  assert.deepEqual([twice.images, twice.seeds, twice.fixed, twice.broken], [100, 2, 10, 5]);
  close(twice.low, e.low);
  close(twice.high, e.high);
  // Two seeds that disagree on an image cancel there: it counts as neither fixed nor broken.
  const split = pairedImages([pattern(100, 0, 20), pattern(100, 0, 0)], [pattern(100, 0, 0), pattern(100, 0, 20)], -0.05);
  assert.deepEqual([split.fixed, split.broken, split.mean], [0, 0, 0]);
});
