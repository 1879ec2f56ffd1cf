// The live chart of the notebooks' comparisons: one curve per run (and per
// split), a target line, and a line of text per epoch outside a notebook.
import assert from "node:assert/strict";
import { test } from "node:test";
import { liveCurves } from "../../lib/viz/curves";

const log = (epoch: number, trainError: number, valError?: number) => ({ epoch, steps: 10 * epoch, trainLoss: 1, trainError, valError, seconds: 1 });

test("liveCurves: training error per run, named runs shown from the start, and the target line", async () => {
  const printed: string[] = [];
  const live = liveCurves({ title: "Training error (Figure 1)", yTitle: "training error", names: ["relu", "tanh"], target: { y: 0.25, name: "25%", epochs: 8 }, log: (t) => printed.push(t) });
  assert.deepEqual(live.figure().data.map((t) => t.name), ["relu", "tanh", "25%"], "both runs are in the legend before either starts");
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
  assert.deepEqual(printed, ["relu epoch 1: training error 50.0%", "relu epoch 2: training error 20.0%", "tanh epoch 1: training error 70.0%"]);
});

test("liveCurves with val: a training and a validation curve per run, in the order the runs start", () => {
  const printed: string[] = [];
  const live = liveCurves({ title: "Training and validation error", val: true, log: (t) => printed.push(t) });
  assert.deepEqual(live.figure().data, []);
  live.onEpoch("no dropout", log(1, 0.4, 0.6));
  live.onEpoch("dropout 0.5", log(1, 0.5));
  const f = live.figure();
  assert.deepEqual(f.data.map((t) => t.name), ["no dropout train", "no dropout val", "dropout 0.5 train", "dropout 0.5 val"]);
  assert.deepEqual(f.data[1], { x: [1], y: [0.6], name: "no dropout val", mode: "lines+markers" });
  assert.ok(Number.isNaN(f.data[3].y[0] as number), "a run without a validation error has a gap, not a zero");
  assert.equal(f.layout?.yaxis?.title, "error");
  assert.deepEqual(printed, ["no dropout epoch 1: train 40.0%, val 60.0%", "dropout 0.5 epoch 1: train 50.0%, val NaN%"]);
});
