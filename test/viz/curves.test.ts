import assert from "node:assert/strict";
import { test } from "node:test";
import type { EpochMetrics } from "../../lib/run/run";
import { curvesFigures } from "../../lib/train/trainer";
import { comparisonFigures, imagesSeenFigure } from "../../lib/viz/curves";

function epoch(n: number, valTop1Error: number, trainLoss: number): EpochMetrics {
  return { epoch: n, step: 10 * n, lr: 0.01, nextLr: 0.01, schedule: "", trainLoss, trainTop1Error: valTop1Error - 0.1, valLoss: trainLoss + 0.1, valTop1Error, valTop5Error: valTop1Error / 2, imagesPerSecond: 100, seconds: 3, checkpoint: "", time: "" };
}

const tuned = [epoch(1, 0.6, 1.5), epoch(2, 0.4, 1.1)];
const scratch = [epoch(1, 0.85, 2.2), epoch(2, 0.7, 1.9)];

test("comparisonFigures: one line per run, named by the run, validation top-1 and training loss by default", () => {
  const f = comparisonFigures([{ name: "fine-tuned", history: tuned }, { name: "from scratch", history: scratch }]);
  assert.deepEqual(f.errors.data.map((t) => t.name), ["fine-tuned", "from scratch"]);
  assert.deepEqual(f.errors.data.map((t) => t.y), [[0.6, 0.4], [0.85, 0.7]]);
  assert.deepEqual(f.errors.data[0].x, [1, 2]);
  assert.deepEqual(f.loss.data.map((t) => t.y), [[1.5, 1.1], [2.2, 1.9]]);
  assert.equal(f.errors.layout?.title, "validation top-1 error");
  assert.equal(f.loss.layout?.title, "training loss");
  assert.deepEqual(f.errors.layout?.yaxis?.range, [0, 1]);
  assert.equal(f.errors.layout?.xaxis?.integer, true, "epochs tick at whole numbers");
});

test("comparisonFigures: several curves of several runs are named by both; a chance line spans all runs", () => {
  const f = comparisonFigures([{ name: "a", history: tuned }, { name: "b", history: [...scratch, epoch(3, 0.5, 1.2)] }], { errors: ["valTop1Error", "valTop5Error"], loss: ["trainLoss", "valLoss"], chance: 0.9 });
  assert.deepEqual(f.errors.data.map((t) => t.name), ["a, val top-1", "a, val top-5", "b, val top-1", "b, val top-5", "chance (top-1)"]);
  assert.deepEqual(f.errors.data[4].x, [1, 3]);
  assert.deepEqual(f.errors.data[4].y, [0.9, 0.9]);
  assert.deepEqual(f.loss.data[1].y, tuned.map((h) => h.valLoss));
  assert.equal(f.errors.layout?.title, "error rates");
});

test("comparisonFigures of one run with every curve is the trainer's live plot", () => {
  for (const history of [tuned, tuned.slice(0, 1)]) {
    const one = comparisonFigures([{ name: "run", history }], { errors: ["trainTop1Error", "valTop1Error", "valTop5Error"], loss: ["trainLoss", "valLoss"], chance: 0.9 });
    assert.deepEqual(one, curvesFigures(history, 0.9));
  }
});

test("comparisonFigures refuses no runs and a history without the metric", () => {
  assert.throws(() => comparisonFigures([]), /no runs/);
  assert.throws(() => comparisonFigures([{ name: "x", history: [{ epoch: 1, trainLoss: 1 }] }]), /epoch 1 of "x" has no number "valTop1Error"/);
});

test("imagesSeenFigure puts runs of different epoch sizes on one axis of images seen", () => {
  const f = imagesSeenFigure([{ name: "small", history: tuned, imagesPerEpoch: 500 }, { name: "large", history: scratch, imagesPerEpoch: 2000 }], "valTop1Error", { title: "t", yTitle: "error", chance: 0.9 });
  assert.deepEqual(f.data.map((t) => t.x), [[0.5, 1], [2, 4], [0, 4]]);
  assert.deepEqual(f.data[1].y, [0.85, 0.7]);
});
