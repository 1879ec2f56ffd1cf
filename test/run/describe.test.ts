// describeTrained tells a run folder, one of its checkpoints and a model folder
// apart, from their JSON files alone, and says in each caller's words what is wrong.
import assert from "node:assert/strict";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { selectEngine } from "../../lib/engine/select";
import { type AlexNetOptions, buildAlexNet } from "../../lib/model/alexnet";
import { writeCard } from "../../lib/model/card";
import { saveModel } from "../../lib/model/io";
import { describeTrained } from "../../lib/run/describe";
import { checkpointsDir } from "../../lib/run/run";
import { saveCheckpoint } from "../../lib/train/checkpoint";
import { PaperSGD } from "../../lib/train/optimizer";
import { tempDir } from "../helpers/notebooks";

const tmp = tempDir("alexnet-describe-");
const SMALL: AlexNetOptions = { inputSize: 64, widthMultiplier: 0.125, fcUnits: 32, init: "he", seed: 3, dropout: 0 };
const runDir = path.join(tmp.dir, "run");

before(async () => {
  await selectEngine({ force: "cpu" });
  mkdirSync(runDir, { recursive: true });
  writeFileSync(
    path.join(runDir, "run.json"),
    JSON.stringify({ model: "mini", modelOptions: SMALL, inputScale: 0.25, crop: 64, data: path.join(tmp.dir, "gone") }),
  );
  const optimizer = new PaperSGD();
  // Epoch 1 is the best by validation error, epoch 2 the newest; 7 classes.
  for (const [epoch, err] of [
    [1, 0.3],
    [2, 0.5],
  ] as const) {
    const model = buildAlexNet("mini", { ...SMALL, numClasses: 7, seed: epoch });
    await saveCheckpoint(
      runDir,
      { model, optimizer, epoch, step: 5 * epoch, metrics: { valTop1Error: err } },
      { best: { metric: "valTop1Error" } },
    );
    model.dispose();
  }
  optimizer.dispose();
});
after(() => tmp.cleanup());

test("a run folder: its best checkpoint (or with last, its newest), the run's settings and the class count from fc8", () => {
  const best = describeTrained(runDir);
  assert.equal(best.kind, "run");
  assert.equal(best.runDir, runDir);
  assert.equal(best.modelDir, path.join(checkpointsDir(runDir), "epoch-0001"));
  assert.deepEqual(best.modelOptions, { ...SMALL, numClasses: 7 });
  assert.equal(best.inputScale, 0.25);
  assert.equal(best.config?.crop, 64);
  assert.equal(best.classes, undefined, "the dataset is gone, so no class names");
  assert.equal(describeTrained(runDir, { checkpoint: "last" }).modelDir, path.join(checkpointsDir(runDir), "epoch-0002"));
});

test("one checkpoint folder: its own weights, the settings of the run two folders up", () => {
  const one = path.join(checkpointsDir(runDir), "epoch-0002");
  const info = describeTrained(one);
  assert.deepEqual([info.kind, info.dir, info.runDir, info.modelDir], ["run", one, runDir, one]);
  assert.match(info.source, /run .*run, checkpoint epoch-0002/);
  // A checkpoint copied out of its run has no settings to go with it.
  const loose = path.join(tmp.dir, "loose", "checkpoints", "epoch-0002");
  mkdirSync(loose, { recursive: true });
  writeFileSync(path.join(loose, "checkpoint.json"), "{}");
  assert.throws(() => describeTrained(loose), /epoch-0002 is a checkpoint, but .*loose\/run\.json is missing.*pass the whole run folder/);
});

test("a stopped run's mid-epoch checkpoint (RUN/interrupted/checkpoints/epoch-N) belongs to the run", () => {
  const mid = path.join(runDir, "interrupted", "checkpoints", "epoch-0002");
  cpSync(path.join(checkpointsDir(runDir), "epoch-0002"), mid, { recursive: true });
  const info = describeTrained(mid);
  assert.deepEqual([info.runDir, info.modelDir], [runDir, mid]);
});

test("a checkpoint whose model.json is torn: the file named, in init's words for train --init", () => {
  const torn = path.join(tmp.dir, "torn", "checkpoints", "epoch-0001");
  cpSync(path.join(checkpointsDir(runDir), "epoch-0001"), torn, { recursive: true });
  cpSync(path.join(runDir, "run.json"), path.join(tmp.dir, "torn", "run.json"));
  writeFileSync(path.join(torn, "model.json"), "{ half");
  assert.throws(
    () => describeTrained(torn, { role: "init" }),
    /^Error: init: .*torn\/checkpoints\/epoch-0001\/model\.json is not valid JSON/,
  );
  writeFileSync(path.join(tmp.dir, "torn", "run.json"), "{ half");
  assert.throws(
    () => describeTrained(path.join(tmp.dir, "torn"), { role: "init" }),
    /init: .*torn\/run\.json is not valid JSON .*pass another run or a model folder/,
  );
});

test("a model folder: its card's variant, options, classes and normalisation", async () => {
  const dir = path.join(tmp.dir, "model");
  const model = buildAlexNet("mini", { ...SMALL, numClasses: 3 });
  await saveModel(model, dir);
  model.dispose();
  writeCard(dir, {
    variant: "mini",
    modelOptions: { ...SMALL, numClasses: 3 },
    classes: ["a", "b", "c"],
    input: { mean: [1, 2, 3], scale: [1, 1, 1] },
    source: "test",
  });
  const info = describeTrained(dir);
  assert.deepEqual([info.kind, info.modelDir, info.variant, info.classes, info.inputScale], ["model", dir, "mini", ["a", "b", "c"], 1]);
  assert.deepEqual(info.card?.input.mean, [1, 2, 3]);
});

test("what is wrong is said in the caller's words: init's for train --init, eval's for eval and predict", () => {
  const nowhere = path.join(tmp.dir, "nowhere");
  assert.throws(() => describeTrained(nowhere, { role: "init" }), /^Error: init: .*nowhere does not exist; pass a model folder/);
  assert.throws(
    () => describeTrained(nowhere),
    /nowhere is neither a training run \(no run\.json; alexnet train --out makes one\) nor a model folder \(no card\.json.*: it does not exist\.$/,
  );
  const empty = path.join(tmp.dir, "empty");
  mkdirSync(empty);
  assert.throws(() => describeTrained(empty), /empty is neither a training run .* nor a model folder .*import-torch --out makes one\)\.$/);
  const fresh = path.join(tmp.dir, "fresh");
  mkdirSync(fresh);
  writeFileSync(path.join(fresh, "run.json"), "{}");
  assert.throws(
    () => describeTrained(fresh),
    /fresh has no checkpoints \(checkpoints\/epoch-NNNN\); train first with `alexnet train --out .*fresh`/,
  );
  assert.throws(() => describeTrained(fresh, { role: "init" }), /init: the run .*fresh has no finished epoch/);
});
