import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import sharp from "sharp";
import * as tf from "@tensorflow/tfjs";
import { run as evalCli } from "../../lib/cli/eval";
import { createLoader } from "../../lib/data/loader";
import { selectEngine } from "../../lib/engine/select";
import { evaluateModel, type Evaluation } from "../../lib/eval/evaluate";
import { ConfusionMatrix } from "../../lib/eval/metrics";
import { loadPredictor } from "../../lib/eval/predict";
import {
  confusionSubset,
  evaluateRun,
  galleryPicks,
  neighbourAgreement,
  openEvalTarget,
  protocolFlips,
  queryPicks,
  warmUp,
} from "../../lib/eval/report";
import { buildAlexNet } from "../../lib/model/alexnet";
import { writeCard } from "../../lib/model/card";
import { saveModel } from "../../lib/model/io";
import { train } from "../../lib/train/trainer";
import { tempDir } from "../helpers/notebooks";
import { prepareTinySet } from "../helpers/train";

const tmp = tempDir("alexnet-report-");
let data = "";
let runDir = "";

before(async () => {
  await selectEngine({ force: "cpu" });
  data = path.join(tmp.dir, "data");
  const set = { seed: 6, classes: 4, trainPerClass: 3, valPerClass: 2 };
  await prepareTinySet(data, set);
  runDir = path.join(tmp.dir, "run");
  const result = await train({
    runDir,
    data,
    profile: "smoke",
    modelOptions: { widthMultiplier: 0.125, fcUnits: 32 },
    crop: 64,
    batchSize: 6,
    epochs: 1,
    workers: 0,
    progress: "silent",
  });
  result.model.dispose();
});
after(() => tmp.cleanup());

function evaluation(rows: { label: number; top: [number, number][] }[]): Evaluation {
  return {
    protocol: "center",
    views: 1,
    count: rows.length,
    top1Error: 0,
    top5Error: 0,
    loss: 0,
    confusion: new ConfusionMatrix(3),
    perClass: [],
    predictions: rows.map((r, index) => ({ index, label: r.label, top: r.top.map(([c, p]) => ({ class: c, p })) })),
    seconds: 0,
  };
}

test("galleryPicks: the most confident mistakes, then the most confident correct answers", () => {
  const e = evaluation([
    { label: 0, top: [[0, 0.9]] }, // right, 0.9
    { label: 0, top: [[1, 0.6]] }, // wrong, 0.6
    { label: 1, top: [[2, 0.8]] }, // wrong, 0.8
    { label: 2, top: [[2, 0.5]] }, // right, 0.5
    { label: 1, top: [[0, 0.4]] }, // wrong, 0.4
  ]);
  assert.deepEqual(galleryPicks(e, 4), [2, 1, 0, 3]);
  assert.deepEqual(galleryPicks(e, 3), [2, 1, 0]);
  // Not enough correct answers: mistakes fill the gallery.
  assert.deepEqual(galleryPicks(e, 5), [2, 1, 4, 0, 3]);
  assert.deepEqual(galleryPicks(evaluation([{ label: 0, top: [[0, 1]] }]), 8), [0]);
});

test("protocolFlips counts images the second protocol fixed and broke", () => {
  const a = evaluation([
    { label: 0, top: [[1, 0.6]] },
    { label: 1, top: [[1, 0.6]] },
    { label: 2, top: [[0, 0.6]] },
    { label: 2, top: [[2, 0.6]] },
  ]);
  const b = evaluation([
    { label: 0, top: [[0, 0.5]] },
    { label: 1, top: [[0, 0.5]] },
    { label: 2, top: [[1, 0.5]] },
    { label: 2, top: [[2, 0.9]] },
  ]);
  assert.deepEqual(protocolFlips(a, b), { fixed: 1, broken: 1, same: 2 });
  assert.throws(() => protocolFlips(a, evaluation([])), /4 and 0 predictions/);
});

test("confusionSubset draws every class up to the limit, beyond it the classes of the most confused pairs", () => {
  const names = Array.from({ length: 50 }, (_, i) => `c${i}`);
  const counts = new Int32Array(50 * 50);
  for (let i = 0; i < 50; i++) counts[i * 50 + i] = 10;
  counts[3 * 50 + 7] = 9; // the most confused pair
  counts[40 * 50 + 2] = 5;
  counts[2 * 50 + 40] = 2; // 2<->40 together: 7
  counts[11 * 50 + 12] = 1;
  const few = confusionSubset(counts, names, 4);
  assert.deepEqual(few.names, ["c2", "c3", "c7", "c40"]);
  assert.deepEqual(few.counts[1], [0, 10, 9, 0], "row c3: the diagonal and c3 -> c7");
  assert.match(few.note, /the 4 classes of the most confused pairs, of 50/);
  const all = confusionSubset(
    Int32Array.from({ length: 9 }, (_, i) => i),
    ["a", "b", "c"],
  );
  assert.deepEqual(all.counts, [
    [0, 1, 2],
    [3, 4, 5],
    [6, 7, 8],
  ]);
  assert.equal(all.note, "");
});

test("queryPicks takes the first image of each class in order; neighbourAgreement counts shared labels", () => {
  assert.deepEqual(queryPicks([2, 2, 0, 1, 0, 3], 3), [0, 2, 3]);
  assert.deepEqual(queryPicks([1, 1], 5), [0]);
  const r = {
    layer: "fc7",
    dim: 2,
    queries: [
      { index: 0, label: 1 },
      { index: 1, label: 2 },
    ],
    neighbours: [
      [
        { index: 4, label: 1, distance: 0 },
        { index: 5, label: 0, distance: 1 },
      ],
      [
        { index: 6, label: 2, distance: 0 },
        { index: 7, label: 2, distance: 1 },
      ],
    ],
  };
  assert.equal(neighbourAgreement(r), 3 / 4);
});

test("evaluateRun: the headline numbers are evaluateModel's on the run's best checkpoint, and every figure is written", async () => {
  const out = path.join(tmp.dir, "eval-out");
  const summary = await evaluateRun(runDir, { both: true, protocol: "ten-crop", out, queries: 2, gallery: 3, batchSize: 4, workers: 0 });
  const predictor = await loadPredictor(runDir);
  const loader = createLoader(data, { split: "val", augment: "ten-crop", batchSize: 5, crop: 64, workers: 0 });
  const direct = await evaluateModel(predictor.model, loader, { inputScale: predictor.input.scale });
  await loader.close();
  predictor.model.dispose();
  assert.equal(summary.protocol, "ten-crop");
  assert.equal(summary.top1Error, direct.top1Error);
  assert.equal(summary.top5Error, direct.top5Error);
  assert.equal(summary.count, 8);
  assert.ok(summary.protocols.center && summary.protocols["ten-crop"]);
  assert.equal(summary.perClass.length, 4);
  assert.equal(summary.conv1.length, 2, "the mini network has two towers");
  assert.ok(summary.neighbourAgreement! >= 0 && summary.neighbourAgreement! <= 1);
  for (const name of ["confusion.svg", "conv1-filters.png", "predictions.png", "predictions.html", "neighbours.png", "metrics.json"])
    assert.ok(existsSync(path.join(out, name)), name);
  const neighbours = await sharp(path.join(out, "neighbours.png")).metadata();
  assert.ok(neighbours.height! > 0 && neighbours.width! > neighbours.height!, "two query rows of 1 + 6 images are wider than tall");
});

test("alexnet eval --json: the last line has top1Error and top5Error; a model folder needs --data", async () => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => lines.push(s);
  try {
    assert.equal(await evalCli(["--run", runDir, "--json", "--queries", "0", "--gallery", "0", "--out", path.join(tmp.dir, "cli-out")]), 0);
  } finally {
    console.log = log;
  }
  const json = JSON.parse(lines[lines.length - 1]);
  assert.equal(json.protocol, "center");
  assert.match(
    lines[0],
    new RegExp(`epoch-0001 on .*data \\(8 val images\\)\\n  centre patch +top-1 error ${(100 * json.top1Error).toFixed(1)}%`),
  );
  assert.ok(json.top1Error >= 0 && json.top1Error <= 1 && json.top5Error <= json.top1Error);
  assert.ok(!existsSync(path.join(tmp.dir, "cli-out", "neighbours.png")));

  const modelDir = path.join(tmp.dir, "model");
  const model = buildAlexNet("mini", { inputSize: 64, numClasses: 4, widthMultiplier: 0.125, fcUnits: 16 });
  await saveModel(model, modelDir);
  model.dispose();
  writeCard(modelDir, {
    variant: "mini",
    modelOptions: { inputSize: 64, numClasses: 4, widthMultiplier: 0.125, fcUnits: 16 },
    classes: ["a", "b", "c", "d"],
    input: { mean: [120, 110, 100], scale: [0.02, 0.02, 0.02] },
    source: "test",
  });
  await assert.rejects(openEvalTarget(modelDir), /model folder, not a training run.*pass --data DIR/);
  await assert.rejects(
    openEvalTarget(path.join(tmp.dir, "typo")),
    /neither a training run \(no run\.json.*nor a model folder \(no card\.json.*: it does not exist/,
  );
  const target = await openEvalTarget(modelDir, { data });
  assert.equal(target.mean, "none");
  assert.deepEqual(target.transform, { inputOffset: [-120, -110, -100], inputScale: [0.02, 0.02, 0.02] });
  target.predictor.model.dispose();
  await target.dataset.close();
});

test("warmUp runs one untimed forward pass per distinct batch size, and leaks no tensor", async () => {
  const shapes: number[][] = [];
  // evaluateModel runs whole batches through apply (predict would split them into 32s): the warm-up must too.
  const model = {
    apply: (x: tf.Tensor, o: { training: boolean }) => (shapes.push([...x.shape, Number(o.training)]), tf.zeros([x.shape[0], 3])),
    predict: () => assert.fail("predict batches by 32"),
  } as unknown as tf.LayersModel;
  const before = tf.memory().numTensors;
  await warmUp(model, 8, [32, 320, 32]);
  assert.deepEqual(
    shapes,
    [
      [32, 8, 8, 3, 0],
      [320, 8, 8, 3, 0],
    ],
    "one pass per shape, in inference mode",
  );
  assert.equal(tf.memory().numTensors, before);
});
