// claimResult on constructed runs: dropout's doubled iterations when the
// treatment never converges within the budget (a lower bound), and when it
// converges faster in most seeds.
import assert from "node:assert/strict";
import { test } from "node:test";
import { claimById } from "../../lib/claims/paper-claims";
import { type RunRecord, claimResult } from "../../lib/claims/reading";

const run = (seed: number, valTop1ByEpoch: number[]): RunRecord => ({ key: "k", seed, valTop1Error: valTop1ByEpoch.at(-1)!, valTop5Error: 0.1, trainTop1Error: 0.2, trainCentreTop1Error: 0.2, firstTrainTop1Error: 0.8, epochs: valTop1ByEpoch.length, seconds: 1, valTop1ByEpoch });
const dropout = claimById("dropout");
const converge = (r: ReturnType<typeof claimResult>) => r.figures.find((f) => f.metric === "epochsToTarget")!;

test("a treatment that never converges within the budget: the ratio is a lower bound, its lower end read", () => {
  // The control reaches 0.4 at best, so converged means 0.45 (chance 0.9): halfway through epoch 3, at 2.5.
  const control = [1, 2, 3].map((s) => run(s, [0.8, 0.5, 0.4, 0.4]));
  // Dropout never gets within 0.45 in 4 epochs: counted as 4, so at least 4 / 2.5 = 1.6 times the epochs.
  const treatment = [1, 2, 3].map((s) => run(s, [0.85, 0.7, 0.6, 0.55]));
  const f = converge(claimResult(dropout, 3, control, treatment, 0.9));
  assert.ok(Math.abs((f.effect as { ratio: { mean: number } }).ratio.mean - 1.6) < 1e-9);
  assert.equal(f.verdict, "reproduced", "at least 1.6 times: the paper's direction");
  assert.equal(f.containsPaper, true, "twice the epochs is not excluded by a lower bound of 1.6");
  assert.equal(f.toResolve, undefined, "no count of seeds resolves a size the budget hides");
  assert.match(f.note ?? "", /did not converge .* in 3 of 3 seeds; those count the budget's 4 epochs, so the ratio is a lower bound/);
});

test("faster in nine seeds, censored in one: the interval says opposite, but a lower bound cannot, so below resolution", () => {
  const seeds = Array.from({ length: 10 }, (_, i) => i + 1);
  // The control converges late (its best, 0.4, after epoch 4: the mark 0.45 is crossed at 3.9).
  const control = seeds.map((s) => run(s, [0.9, 0.9, 0.9, 0.4]));
  const treatment = seeds.map((s) => run(s, s === 10 ? [0.9, 0.9, 0.9, 0.9] : [0.1, 0.1, 0.1, 0.1]));
  const f = converge(claimResult(dropout, 10, control, treatment, 0.9));
  assert.ok(f.effect.high < 0, "the interval itself is below a ratio of 1");
  assert.equal(f.verdict, "below resolution");
  assert.match(f.note ?? "", /in 1 of 10 seeds/);
  // Without the censored seed it would be read as measured: opposite.
  const clean = converge(claimResult(dropout, 9, control.slice(0, 9), treatment.slice(0, 9), 0.9));
  assert.equal(clean.verdict, "opposite");
  assert.equal(clean.note, undefined);
});
