import assert from "node:assert/strict";
import { test } from "node:test";
import { meanSd, pairBySeed, pairedDifference, tQuantile975 } from "../../lib/eval/stats";

test("meanSd: the mean and the sample standard deviation (n - 1)", () => {
  const m = meanSd([2, 4, 4, 4, 5, 5, 7, 9]);
  assert.equal(m.mean, 5);
  assert.ok(Math.abs(m.sd - Math.sqrt(32 / 7)) < 1e-12);
  assert.ok(Number.isNaN(meanSd([3]).sd));
  assert.throws(() => meanSd([]), /no values/);
  assert.throws(() => meanSd([1, NaN]), /finite number/);
});

test("tQuantile975 is Student's t: 4.303 for 2 degrees of freedom, near 1.96 for many", () => {
  assert.equal(tQuantile975(2), 4.303);
  assert.equal(tQuantile975(1), 12.706);
  assert.ok(Math.abs(tQuantile975(120) - 1.98) < 0.005);
  assert.throws(() => tQuantile975(0), /whole number >= 1/);
});

test("pairedDifference: the mean of b - a per pair, with a 95% t interval", () => {
  // Three seeds: differences 1, 2, 3; mean 2, sd 1, half-width 4.303 / sqrt(3).
  const d = pairedDifference([10, 20, 30], [11, 22, 33]);
  assert.deepEqual(d.perPair, [1, 2, 3]);
  assert.equal(d.mean, 2);
  const half = 4.303 / Math.sqrt(3);
  assert.ok(Math.abs(d.low - (2 - half)) < 1e-12 && Math.abs(d.high - (2 + half)) < 1e-12);
  assert.ok(d.low < 0, "three seeds this noisy cannot exclude zero");
  assert.ok(Number.isNaN(pairedDifference([1], [2]).low));
  assert.throws(() => pairedDifference([1, 2], [1]), /pair them by seed/);
});

test("pairBySeed pairs each seed's treated run with its control, in the order seeds appear", () => {
  const runs = [
    { seed: 3, crops: false, err: 0.3 },
    { seed: 1, crops: true, err: 0.2 },
    { seed: 3, crops: true, err: 0.25 },
    { seed: 1, crops: false, err: 0.22 },
  ];
  const pairs = pairBySeed(runs, (r) => r.crops);
  assert.deepEqual(
    pairs.map((p) => p.seed),
    [3, 1],
  );
  assert.deepEqual(
    pairs.map((p) => [p.treated.err, p.control.err]),
    [
      [0.25, 0.3],
      [0.2, 0.22],
    ],
  );
});

test("pairBySeed refuses a seed without exactly one run of each", () => {
  assert.throws(
    () =>
      pairBySeed(
        [
          { seed: 1, t: true },
          { seed: 2, t: false },
          { seed: 2, t: true },
        ],
        (r) => r.t,
      ),
    /seed 1 has 1 treated and 0 control runs/,
  );
  assert.throws(
    () =>
      pairBySeed(
        [
          { seed: 1, t: true },
          { seed: 1, t: true },
          { seed: 1, t: false },
        ],
        (r) => r.t,
      ),
    /seed 1 has 2 treated/,
  );
  assert.deepEqual(
    pairBySeed([], () => true),
    [],
  );
});
