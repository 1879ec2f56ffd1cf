// claimResult on constructed runs: dropout's doubled iterations to converge,
// timed to the level both configurations reached, and the rows it makes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { claimById } from "../../lib/claims/paper-claims";
import { type ClaimsReport, type RunRecord, claimResult } from "../../lib/claims/reading";
import { claimsRows } from "../../lib/claims/table";

const run = (seed: number, valTop1ByEpoch: number[]): RunRecord => ({
  key: "k",
  seed,
  valTop1Error: valTop1ByEpoch.at(-1)!,
  valTop5Error: 0.1,
  trainTop1Error: 0.2,
  trainCentreTop1Error: 0.2,
  firstTrainTop1Error: 0.8,
  epochs: valTop1ByEpoch.length,
  seconds: 1,
  valTop1ByEpoch,
});
const dropout = claimById("dropout");
const converge = (r: ReturnType<typeof claimResult>) => r.figures.find((f) => f.metric === "epochsToTarget")!;
const seeds = [1, 2, 3];

test("dropout twice as slow to the level both reach: a ratio of 2, reproduced, the paper's size held", () => {
  // Both reach 0.3, so the mark is 0.3 + 0.1 * 0.6 = 0.36: the control crosses it halfway through epoch 2
  // (0.42 after epoch 1, 0.30 after epoch 2), dropout halfway through epoch 4, two epochs later.
  const control = seeds.map((s) => run(s, [0.42, 0.3, 0.3, 0.3, 0.3, 0.3]));
  const slowed = seeds.map((s) => run(s, [0.9, 0.9, 0.42, 0.3, 0.3, 0.3]));
  const f = converge(claimResult(dropout, 3, control, slowed, 0.9));
  // Control: 1 + 0.06 / 0.12 = 1.5 epochs; dropout: 3 + 0.06 / 0.12 = 3.5; a ratio of 3.5 / 1.5.
  assert.ok(Math.abs((f.effect as { ratio: { mean: number } }).ratio.mean - 3.5 / 1.5) < 1e-9);
  assert.equal(f.verdict, "reproduced");
});

test("two identical configurations: a ratio of exactly 1, below resolution", () => {
  const curves = [
    [0.8, 0.5, 0.3, 0.25],
    [0.7, 0.6, 0.4, 0.3],
    [0.85, 0.45, 0.35, 0.2],
  ];
  const a = curves.map((c, i) => run(i + 1, c));
  const b = curves.map((c, i) => run(i + 1, c));
  const f = converge(claimResult(dropout, 3, a, b, 0.9));
  assert.deepEqual((f.effect as { perSeed: number[] }).perSeed, [0, 0, 0]);
  assert.equal(f.verdict, "below resolution");
});

test("a configuration at chance in some seed: no convergence to time, and a row that says so", () => {
  const control = seeds.map((s) => run(s, [0.5, 0.3]));
  const stuck = seeds.map((s) => run(s, s === 2 ? [0.95, 0.9] : [0.6, 0.4]));
  const r = claimResult(dropout, 3, control, stuck, 0.9);
  assert.deepEqual(
    r.figures.map((f) => f.metric),
    ["overfittingGap"],
  );
  assert.deepEqual(r.unmeasured, [
    { metric: "epochsToTarget", why: "dropout 0.5 never got below chance (seed 2), so there is no convergence to time" },
  ]);
  const report = {
    profile: "laptop",
    data: { dir: "d", classes: 10, train: 1, val: 1, greyscale: false, source: {} },
    budget: { epochs: 2 },
    seeds,
    status: "completed",
    harness: 2,
    claims: [r],
  } as ClaimsReport;
  assert.deepEqual(
    claimsRows(report).map((row) => [row[1], row[2], row[6].split(":")[0]]),
    [
      ["overfittingGap", "lower", row0(r)],
      ["epochsToTarget", "×2.00", "not measured"],
    ],
  );
});

function row0(r: ReturnType<typeof claimResult>): string {
  return r.learned.ok ? r.figures[0].verdict : "not read";
}
