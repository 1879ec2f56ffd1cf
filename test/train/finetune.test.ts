import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectEngine } from "../../lib/engine/select";
import { type AlexNetOptions, buildAlexNet } from "../../lib/model/alexnet";
import { type ModelCard, writeCard } from "../../lib/model/card";
import { saveModel } from "../../lib/model/io";
import { checkpointsDir } from "../../lib/run/run";
import { describeTrained } from "../../lib/run/describe";
import { saveCheckpoint } from "../../lib/train/checkpoint";
import {
  FEATURE_LAYERS,
  featureLayerNames,
  featuresLrMultipliers,
  freeze,
  headClasses,
  loadInitModel,
  replaceHead,
} from "../../lib/train/finetune";
import { PaperSGD } from "../../lib/train/optimizer";
import { trainStep } from "../../lib/train/step";
import { tempDir } from "../helpers/notebooks";
import { tensorBytes, tinyConvNet } from "../helpers/train";

const tmp = tempDir("alexnet-finetune-");
before(async () => {
  await selectEngine({ force: "cpu" });
});
after(() => tmp.cleanup());

// A narrow mini network at 64x64: every layer kind of the real one, milliseconds per step.
const SMALL: AlexNetOptions = { inputSize: 64, widthMultiplier: 0.125, fcUnits: 32, numClasses: 5, init: "he", seed: 3, dropout: 0 };
const WEIGHT_LAYERS = [...FEATURE_LAYERS, "fc6", "fc7", "fc8"];

function layerBytes(model: tf.LayersModel, name: string): Buffer[] {
  return model.getLayer(name).getWeights().map(tensorBytes);
}

function card(classes: number): ModelCard {
  return {
    variant: "mini",
    modelOptions: { ...SMALL, numClasses: classes },
    classes: Array.from({ length: classes }, (_, i) => `class-${i}`),
    input: { mean: [120, 110, 100], scale: [1 / 60, 1 / 62, 1 / 64] },
    source: "test model",
  };
}

function batch(seed: number, n = 4): { xs: tf.Tensor; ys: tf.Tensor } {
  return tf.tidy(() => ({
    xs: tf.randomNormal([n, 64, 64, 3], 0, 1, "float32", seed),
    ys: tf.tensor1d([0, 1, 2, 3].slice(0, n), "int32"),
  }));
}

test("replaceHead copies every weight but fc8 exactly; fc8 gets the new shape and buildAlexNet's initial values", () => {
  const source = buildAlexNet("mini", SMALL);
  const sourceBytes = WEIGHT_LAYERS.map((n) => layerBytes(source, n));
  const replaced = replaceHead({ model: source, variant: "mini", modelOptions: SMALL }, 7, { seed: 11 });
  for (const name of FEATURE_LAYERS.concat(["fc6", "fc7"] as never[]))
    assert.deepEqual(layerBytes(replaced, name), layerBytes(source, name), name);
  assert.equal(headClasses(replaced), 7);
  assert.deepEqual(
    replaced
      .getLayer("fc8")
      .getWeights()
      .map((w) => w.shape),
    [[32, 7], [7]],
  );
  const fresh = buildAlexNet("mini", { ...SMALL, numClasses: 7, seed: 11 });
  assert.deepEqual(layerBytes(replaced, "fc8"), layerBytes(fresh, "fc8"));
  // The source is left as it was.
  assert.deepEqual(
    WEIGHT_LAYERS.map((n) => layerBytes(source, n)),
    sourceBytes,
  );
  assert.equal(headClasses(source), 5);

  const kept = replaceHead({ model: source, variant: "mini", modelOptions: SMALL }, 5, { keepHead: true, seed: 11 });
  assert.deepEqual(
    WEIGHT_LAYERS.map((n) => layerBytes(kept, n)),
    sourceBytes,
  );
  assert.throws(
    () => replaceHead({ model: source, variant: "mini", modelOptions: SMALL }, 7, { keepHead: true }),
    /keepHead needs the same number of classes, but the model has 5 and 7/,
  );
  const before = tf.memory().numTensors;
  assert.throws(
    () => replaceHead({ model: source, variant: "mini", modelOptions: SMALL }, 7, { modelOptions: { fcUnits: 64 } }),
    /fc6\/kernel is \[\d+,32\] in the init model but \[\d+,64\] in the new network/,
  );
  assert.equal(tf.memory().numTensors, before, "the half-built network is disposed");
  for (const m of [source, replaced, fresh, kept]) m.dispose();
});

test("loadInitModel reads a model folder: weights, variant, options, classes and the card's normalisation", async () => {
  const dir = path.join(tmp.dir, "model");
  const model = buildAlexNet("mini", SMALL);
  freeze(model, "features"); // saved as not trainable: loading makes every layer trainable again
  await saveModel(model, dir);
  writeCard(dir, card(5));
  const init = await loadInitModel(dir);
  assert.equal(init.kind, "model");
  assert.equal(init.variant, "mini");
  assert.deepEqual(init.modelOptions, SMALL);
  assert.deepEqual(init.classes, card(5).classes);
  assert.deepEqual(init.input, card(5).input);
  assert.equal(init.inputScale, 1);
  assert.equal(init.source, "test model");
  for (const n of WEIGHT_LAYERS) assert.deepEqual(layerBytes(init.model, n), layerBytes(model, n), n);
  assert.equal(init.model.trainableWeights.length, 16);
  model.dispose();
  init.model.dispose();
});

test("loadInitModel reads a run folder (its best checkpoint) or one checkpoint, with the run's inputScale", async () => {
  const runDir = path.join(tmp.dir, "run");
  mkdirSync(runDir, { recursive: true });
  const options = { ...SMALL };
  delete options.numClasses; // run.json leaves numClasses to the dataset
  writeFileSync(
    path.join(runDir, "run.json"),
    JSON.stringify({ model: "mini", modelOptions: options, inputScale: 0.25, data: path.join(tmp.dir, "gone") }),
  );
  const optimizer = new PaperSGD();
  const models = [1, 2].map((seed) => buildAlexNet("mini", { ...SMALL, numClasses: 6, seed }));
  // Epoch 1 is the best by validation error, epoch 2 the newest.
  await saveCheckpoint(
    runDir,
    { model: models[0], optimizer, epoch: 1, step: 5, metrics: { valTop1Error: 0.3 } },
    { best: { metric: "valTop1Error" } },
  );
  await saveCheckpoint(
    runDir,
    { model: models[1], optimizer, epoch: 2, step: 10, metrics: { valTop1Error: 0.5 } },
    { best: { metric: "valTop1Error" } },
  );

  const fromRun = await loadInitModel(runDir);
  assert.equal(fromRun.kind, "run");
  assert.equal(fromRun.modelDir, path.join(checkpointsDir(runDir), "epoch-0001"));
  assert.deepEqual(fromRun.modelOptions, { ...SMALL, numClasses: 6, seed: 3 });
  assert.equal(fromRun.inputScale, 0.25);
  assert.equal(fromRun.input, undefined);
  assert.equal(fromRun.classes, undefined);
  assert.match(fromRun.source, /run .*epoch-0001/);
  for (const n of WEIGHT_LAYERS) assert.deepEqual(layerBytes(fromRun.model, n), layerBytes(models[0], n), n);

  const one = await loadInitModel(path.join(checkpointsDir(runDir), "epoch-0002"));
  for (const n of WEIGHT_LAYERS) assert.deepEqual(layerBytes(one.model, n), layerBytes(models[1], n), n);
  for (const m of [...models, fromRun.model, one.model]) m.dispose();
  optimizer.dispose();
});

test("a folder that is neither a model folder nor a run gets an error naming it and what to pass", async () => {
  const empty = path.join(tmp.dir, "empty");
  mkdirSync(empty);
  assert.throws(
    () => describeTrained(empty, { role: "init" }),
    new RegExp(`${empty} is neither a model folder nor a training run.*model\\.json \\+ card\\.json.*run folder`),
  );
  await assert.rejects(loadInitModel(path.join(tmp.dir, "nowhere")), /nowhere does not exist; pass a model folder/);
  const noCard = path.join(tmp.dir, "no-card");
  const m = buildAlexNet("mini", SMALL);
  await saveModel(m, noCard);
  m.dispose();
  assert.throws(() => describeTrained(noCard, { role: "init" }), /no-card has model\.json but no card\.json.*writeCard/);
  const fresh = path.join(tmp.dir, "fresh-run");
  mkdirSync(fresh);
  writeFileSync(path.join(fresh, "run.json"), "{}");
  assert.throws(() => describeTrained(fresh, { role: "init" }), /the run .*fresh-run has no finished epoch.*--resume/);
});

test("feature layers are conv1..conv5; a model without a flatten layer is refused", () => {
  const model = buildAlexNet("mini", SMALL);
  assert.deepEqual(featureLayerNames(model), [...FEATURE_LAYERS]);
  const tiny = tinyConvNet(1);
  assert.throws(() => featureLayerNames(tiny), /has no layer named flatten/);
  assert.throws(() => freeze(model, "everything" as never), /'everything' is not a freeze mode/);
  model.dispose();
  tiny.dispose();
});

test("freeze features: after training steps the conv weights are bit-identical while the fc weights changed", () => {
  const model = buildAlexNet("mini", SMALL);
  const before = WEIGHT_LAYERS.map((n) => layerBytes(model, n));
  assert.deepEqual(freeze(model, "features"), [...FEATURE_LAYERS]);
  assert.deepEqual(
    model.trainableWeights.map((w) => w.originalName),
    ["fc6/kernel", "fc6/bias", "fc7/kernel", "fc7/bias", "fc8/kernel", "fc8/bias"],
  );
  const optimizer = new PaperSGD({ learningRate: 0.05 });
  for (let step = 0; step < 3; step++) {
    const { xs, ys } = batch(step);
    trainStep(model, xs, ys, optimizer);
    tf.dispose([xs, ys]);
  }
  WEIGHT_LAYERS.forEach((n, i) => {
    if (n.startsWith("conv")) assert.deepEqual(layerBytes(model, n), before[i], `${n} moved`);
    else assert.notDeepEqual(layerBytes(model, n)[0], before[i][0], `${n} did not move`);
  });
  assert.deepEqual(optimizer.velocityNames().length, 6, "no velocity for a frozen weight");
  assert.deepEqual(freeze(model, "none"), []);
  assert.equal(model.trainableWeights.length, 16);
  optimizer.dispose();
  model.dispose();
});

test("featuresLrMultipliers: one step moves the conv weights by 0.1x the plain step, and the fc weights identically", () => {
  const plain = buildAlexNet("mini", SMALL);
  const slow = buildAlexNet("mini", SMALL);
  const start = WEIGHT_LAYERS.map((n) =>
    plain
      .getLayer(n)
      .getWeights()
      .map((w) => Array.from(w.dataSync())),
  );
  const multiplier = featuresLrMultipliers(slow, 0.1);
  // tfjs names the second model's variables conv1/kernel_1 and so on; the multiplier follows them.
  assert.equal(multiplier(slow.getLayer("conv1").weights[0].name), 0.1);
  assert.equal(multiplier(slow.getLayer("fc8").weights[0].name), 1);
  assert.equal(multiplier(plain.getLayer("conv1").weights[0].name), 1);
  const options = { learningRate: 0.05, momentum: 0.9, weightDecay: 0.0005 };
  const o1 = new PaperSGD(options);
  const o2 = new PaperSGD({ ...options, lrMultipliers: multiplier });
  const { xs, ys } = batch(7);
  trainStep(plain, xs, ys, o1);
  trainStep(slow, xs, ys, o2);
  tf.dispose([xs, ys]);
  WEIGHT_LAYERS.forEach((n, i) => {
    if (!n.startsWith("conv")) {
      assert.deepEqual(layerBytes(slow, n), layerBytes(plain, n), n);
      return;
    }
    const a = plain
      .getLayer(n)
      .getWeights()
      .map((w) => w.dataSync());
    const b = slow
      .getLayer(n)
      .getWeights()
      .map((w) => w.dataSync());
    let moved = 0;
    start[i].forEach((w0, j) => {
      for (let k = 0; k < w0.length; k++) {
        const full = a[j][k] - w0[k];
        const part = b[j][k] - w0[k];
        if (Math.abs(full) < 1e-6) continue; // float32 rounding of w0 + v dominates tiny steps
        moved++;
        assert.ok(Math.abs(part - 0.1 * full) <= 1e-3 * Math.abs(full) + 1e-7, `${n}[${j}][${k}]: step ${part} vs 0.1 x ${full}`);
      }
    });
    assert.ok(moved > 0, `${n} did not move`);
  });
  assert.throws(() => featuresLrMultipliers(slow, -1), /scale must be a finite number >= 0/);
  for (const o of [o1, o2]) o.dispose();
  plain.dispose();
  slow.dispose();
});
