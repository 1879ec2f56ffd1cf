// Curves of runs: compared epoch by epoch, on an axis of images seen, and live during a comparison.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { EpochMetrics } from "../../lib/run/run";
import { comparisonFigures, imagesSeenFigure, liveCurves } from "../../lib/viz/curves";
import { curvesFigures } from "../../lib/viz/training";

function epoch(n: number, valTop1Error: number, trainLoss: number): EpochMetrics {
  return {
    epoch: n,
    step: 10 * n,
    lr: 0.01,
    nextLr: 0.01,
    schedule: "",
    trainLoss,
    trainTop1Error: valTop1Error - 0.1,
    valLoss: trainLoss + 0.1,
    valTop1Error,
    valTop5Error: valTop1Error / 2,
    imagesPerSecond: 100,
    seconds: 3,
    checkpoint: "",
    time: "",
  };
}

const tuned = [epoch(1, 0.6, 1.5), epoch(2, 0.4, 1.1)];
const scratch = [epoch(1, 0.85, 2.2), epoch(2, 0.7, 1.9)];

test("comparisonFigures: one line per run, named by the run, validation top-1 and training loss by default", () => {
  const f = comparisonFigures([
    { name: "fine-tuned", history: tuned },
    { name: "from scratch", history: scratch },
  ]);
  assert.deepEqual(
    f.errors.data.map((t) => t.name),
    ["fine-tuned", "from scratch"],
  );
  assert.deepEqual(
    f.errors.data.map((t) => t.y),
    [
      [0.6, 0.4],
      [0.85, 0.7],
    ],
  );
  assert.deepEqual(f.errors.data[0].x, [1, 2]);
  assert.deepEqual(
    f.loss.data.map((t) => t.y),
    [
      [1.5, 1.1],
      [2.2, 1.9],
    ],
  );
  assert.equal(f.errors.layout?.title, "validation top-1 error");
  assert.equal(f.loss.layout?.title, "training loss");
  assert.deepEqual(f.errors.layout?.yaxis?.range, [0, 1]);
  assert.equal(f.errors.layout?.xaxis?.integer, true, "epochs tick at whole numbers");
});

test("comparisonFigures: several curves of several runs are named by both; a chance line spans all runs", () => {
  const f = comparisonFigures(
    [
      { name: "a", history: tuned },
      { name: "b", history: [...scratch, epoch(3, 0.5, 1.2)] },
    ],
    { errors: ["valTop1Error", "valTop5Error"], loss: ["trainLoss", "valLoss"], chance: 0.9 },
  );
  assert.deepEqual(
    f.errors.data.map((t) => t.name),
    ["a, val top-1", "a, val top-5", "b, val top-1", "b, val top-5", "chance (top-1)"],
  );
  assert.deepEqual(f.errors.data[4].x, [1, 3]);
  assert.deepEqual(f.errors.data[4].y, [0.9, 0.9]);
  assert.deepEqual(
    f.loss.data[1].y,
    tuned.map((h) => h.valLoss),
  );
  assert.equal(f.errors.layout?.title, "error rates");
});

test("curvesFigures, the trainer's live plot, is one run with every curve: named by curve, a chance line with a length after one epoch", () => {
  const two = curvesFigures(tuned, 0.9);
  assert.deepEqual(
    two.errors.data.map((t) => t.name),
    ["train top-1", "val top-1", "val top-5", "chance (top-1)"],
  );
  assert.deepEqual(
    two.errors.data.map((t) => t.y),
    [
      [0.5, 0.30000000000000004],
      [0.6, 0.4],
      [0.3, 0.2],
      [0.9, 0.9],
    ],
  );
  assert.deepEqual(
    two.loss.data.map((t) => t.name),
    ["train loss", "val loss"],
  );
  assert.equal(two.errors.layout?.title, "error rates");
  assert.equal(two.loss.layout?.title, "loss (cross-entropy)");
  assert.deepEqual(curvesFigures(tuned.slice(0, 1), 0.9).errors.data[3].x, [1, 2]);
  assert.deepEqual(curvesFigures([], 0.9).errors.data.length, 3, "no epochs yet: no chance line");
});

test("comparisonFigures refuses no runs and a history without the metric", () => {
  assert.throws(() => comparisonFigures([]), /no runs/);
  assert.throws(
    () => comparisonFigures([{ name: "x", history: [{ epoch: 1, trainLoss: 1 }] }]),
    /epoch 1 of "x" has no number "valTop1Error"/,
  );
});

test("imagesSeenFigure puts runs of different epoch sizes on one axis of images seen", () => {
  const f = imagesSeenFigure(
    [
      { name: "small", history: tuned, imagesPerEpoch: 500 },
      { name: "large", history: scratch, imagesPerEpoch: 2000 },
    ],
    "valTop1Error",
    { title: "t", yTitle: "error", chance: 0.9 },
  );
  assert.deepEqual(
    f.data.map((t) => t.x),
    [
      [0.5, 1],
      [2, 4],
      [0, 4],
    ],
  );
  assert.deepEqual(f.data[1].y, [0.85, 0.7]);
});

const log = (epoch: number, trainError: number, valError?: number) => ({
  epoch,
  steps: 10 * epoch,
  trainLoss: 1,
  trainError,
  valError,
  seconds: 1,
});

test("liveCurves: training error per run, named runs shown from the start, and the target line", async () => {
  const printed: string[] = [];
  const live = liveCurves({
    title: "Training error (Figure 1)",
    yTitle: "training error",
    names: ["relu", "tanh"],
    target: { y: 0.25, name: "25%", epochs: 8 },
    log: (t) => printed.push(t),
  });
  assert.deepEqual(
    live.figure().data.map((t) => t.name),
    ["relu", "tanh", "25%"],
    "both runs are in the legend before either starts",
  );
  live.onEpoch("relu", log(1, 0.5));
  live.onEpoch("relu", log(2, 0.2));
  live.onEpoch("tanh", log(1, 0.7));
  await live.flushed();
  const f = live.figure();
  assert.deepEqual(f.data[0], { x: [1, 2], y: [0.5, 0.2], name: "relu", mode: "lines+markers" });
  assert.deepEqual(f.data[1].y, [0.7]);
  assert.deepEqual(f.data[2], { x: [1, 8], y: [0.25, 0.25], name: "25%", mode: "lines" });
  assert.equal(f.layout?.title, "Training error (Figure 1)");
  assert.equal(f.layout?.yaxis?.title, "training error");
  assert.deepEqual(f.layout?.yaxis?.range, [0, 1]);
  assert.deepEqual(printed, [
    "relu epoch 1: training error 50.0%",
    "relu epoch 2: training error 20.0%",
    "tanh epoch 1: training error 70.0%",
  ]);
});

test("liveCurves with val: a training and a validation curve per run, in the order the runs start", () => {
  const printed: string[] = [];
  const live = liveCurves({ title: "Training and validation error", val: true, log: (t) => printed.push(t) });
  assert.deepEqual(live.figure().data, []);
  live.onEpoch("no dropout", log(1, 0.4, 0.6));
  live.onEpoch("dropout 0.5", log(1, 0.5));
  const f = live.figure();
  assert.deepEqual(
    f.data.map((t) => t.name),
    ["no dropout train", "no dropout val", "dropout 0.5 train", "dropout 0.5 val"],
  );
  assert.deepEqual(f.data[1], { x: [1], y: [0.6], name: "no dropout val", mode: "lines+markers" });
  assert.ok(Number.isNaN(f.data[3].y[0] as number), "a run without a validation error has a gap, not a zero");
  assert.equal(f.layout?.yaxis?.title, "error");
  assert.deepEqual(printed, ["no dropout epoch 1: train 40.0%, val 60.0%", "dropout 0.5 epoch 1: train 50.0%, val -"]);
});
