import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { type AlexNetOptions, type AlexNetVariant, buildAlexNet, planAlexNet } from "../../lib/model/alexnet";
import { MODEL_FILE, WEIGHTS_FILE, loadModel, saveModel } from "../../lib/model/io";
import { selectEngine } from "../../lib/engine/select";

const tmp = mkdtempSync(path.join(os.tmpdir(), "alexnet-io-"));

before(async () => {
  await selectEngine({ force: "wasm" });
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function images(n: number, size: number): tf.Tensor4D {
  return tf.randomUniform([n, size, size, 3], -1, 1, "float32", 11) as tf.Tensor4D;
}

/** A layer config with unset fields dropped: JSON turns tfjs' undefined into null. */
function setFields(config: object): object {
  return JSON.parse(JSON.stringify(config, (_k, v) => (v === null ? undefined : v)));
}

/** Saves, loads, and checks that the copy has the same layers, configs, weights and outputs. */
async function roundTrip(variant: AlexNetVariant, options: AlexNetOptions, dir: string): Promise<void> {
  const model = buildAlexNet(variant, options);
  const inputSize = planAlexNet(variant, options).inputSize;
  const x = images(2, inputSize);
  try {
    await saveModel(model, dir);
    const loaded = await loadModel(dir);
    try {
      assert.equal(loaded.name, model.name);
      assert.deepEqual(
        loaded.layers.map((l) => [l.name, l.getClassName()]),
        model.layers.map((l) => [l.name, l.getClassName()]),
      );
      // Custom layers' configs (LRN constants and convention, groups) survive the JSON.
      for (const l of model.layers) assert.deepEqual(setFields(loaded.getLayer(l.name).getConfig()), setFields(l.getConfig()), l.name);
      const wa = model.getWeights();
      const wb = loaded.getWeights();
      assert.equal(wb.length, wa.length);
      wa.forEach((w, i) => assert.ok(tf.equal(w, wb[i]).all().dataSync()[0] === 1, `weight ${i} differs`));
      const ya = model.predict(x) as tf.Tensor;
      const yb = loaded.predict(x) as tf.Tensor;
      assert.deepEqual(Array.from(yb.dataSync()), Array.from(ya.dataSync()));
      tf.dispose([ya, yb]);
    } finally {
      loaded.dispose();
    }
  } finally {
    x.dispose();
    model.dispose();
  }
}

test("mini round-trips with LRN and grouped-conv configs intact and identical outputs", async () => {
  const dir = path.join(tmp, "mini");
  await roundTrip("mini", {}, dir);
  assert.deepEqual(readdirSync(dir).sort(), [MODEL_FILE, WEIGHTS_FILE]);
  const json = JSON.parse(readFileSync(path.join(dir, MODEL_FILE), "utf8"));
  // tfjs-node's file:// layout: one manifest group pointing at weights.bin.
  assert.equal(json.format, "layers-model");
  assert.deepEqual(
    json.weightsManifest.map((g: { paths: string[] }) => g.paths),
    [[WEIGHTS_FILE]],
  );
  const classes = JSON.stringify(json.modelTopology);
  assert.match(classes, /"class_name":"GroupedConv2D"/);
  assert.match(classes, /"class_name":"LocalResponseNormalization"/);
});

// Full size at 1000 classes: about 4 s and 0.5 GB each (model, copy, and the artifacts in between).
const FULL = [
  ["paper", 227, 60_965_224],
  ["paper-1tower", 224, 62_378_344],
  ["torchvision", 224, 61_100_840],
] as const;

for (const [variant, inputSize, params] of FULL) {
  test(`${variant} at full size round-trips with identical outputs (${inputSize}x${inputSize} input)`, async () => {
    const dir = path.join(tmp, variant);
    await roundTrip(variant, { inputSize }, dir);
    assert.equal(readFileSync(path.join(dir, WEIGHTS_FILE)).byteLength, params * 4);
    rmSync(dir, { recursive: true });
  });
}

test("saving over an earlier save replaces it and leaves no temporary files", async () => {
  const dir = path.join(tmp, "overwrite");
  const a = buildAlexNet("mini", { seed: 1, fcUnits: 16 });
  const b = buildAlexNet("mini", { seed: 2, fcUnits: 16 });
  try {
    await saveModel(a, dir);
    await saveModel(b, dir);
    assert.deepEqual(readdirSync(dir).sort(), [MODEL_FILE, WEIGHTS_FILE]);
    const loaded = await loadModel(dir);
    const w = loaded.getLayer("conv1").getWeights()[0].dataSync();
    assert.deepEqual(Array.from(w), Array.from(b.getLayer("conv1").getWeights()[0].dataSync()));
    loaded.dispose();
  } finally {
    a.dispose();
    b.dispose();
  }
});

test("loadModel names the missing or damaged file and the fix", async () => {
  await assert.rejects(loadModel(path.join(tmp, "nowhere")), /nowhere\/model\.json does not exist; save a model there with saveModel/);

  const dir = path.join(tmp, "damaged");
  const model = buildAlexNet("mini", { fcUnits: 16 });
  await saveModel(model, dir);
  model.dispose();
  const weights = path.join(dir, WEIGHTS_FILE);
  const size = readFileSync(weights).byteLength;
  truncateSync(weights, size - 4);
  await assert.rejects(
    loadModel(dir),
    new RegExp(`hold ${size - 4} bytes but model\\.json describes ${size}; they come from different or interrupted saves`),
  );
  rmSync(weights);
  await assert.rejects(loadModel(dir), /weights\.bin, listed in model\.json, does not exist/);
  writeFileSync(path.join(dir, MODEL_FILE), "{ not json");
  await assert.rejects(loadModel(dir), /model\.json is not valid JSON/);
});

test("loadModel reads weights split over several files, as tfjs' converter writes them", async () => {
  const dir = path.join(tmp, "sharded");
  const model = buildAlexNet("mini", { fcUnits: 16 });
  const x = images(1, 128);
  try {
    await saveModel(model, dir);
    const json = JSON.parse(readFileSync(path.join(dir, MODEL_FILE), "utf8"));
    const bytes = readFileSync(path.join(dir, WEIGHTS_FILE));
    const cut = 1000; // mid-tensor: shards are byte ranges, not whole weights
    writeFileSync(path.join(dir, "group1-shard1of2.bin"), bytes.subarray(0, cut));
    writeFileSync(path.join(dir, "group1-shard2of2.bin"), bytes.subarray(cut));
    rmSync(path.join(dir, WEIGHTS_FILE));
    json.weightsManifest[0].paths = ["group1-shard1of2.bin", "group1-shard2of2.bin"];
    writeFileSync(path.join(dir, MODEL_FILE), JSON.stringify(json));
    const loaded = await loadModel(dir);
    const ya = model.predict(x) as tf.Tensor;
    const yb = loaded.predict(x) as tf.Tensor;
    assert.deepEqual(Array.from(yb.dataSync()), Array.from(ya.dataSync()));
    tf.dispose([ya, yb]);
    loaded.dispose();
  } finally {
    x.dispose();
    model.dispose();
  }
});
