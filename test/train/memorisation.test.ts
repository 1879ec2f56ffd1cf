import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { selectEngine } from "../../lib/engine/select";
import { memorisationCheck } from "../../lib/train/memorisation";
import { tempDir } from "../helpers/notebooks";

const tmp = tempDir("alexnet-memorise-");
after(tmp.cleanup);
before(async () => {
  await selectEngine({ force: "wasm", wasmThreads: 1 });
  mkdirSync(path.join(tmp.dir, "data"), { recursive: true });
});

test("memorisation check, smoke size: the smoke recipe fits 20 embedded images, measured on those images without augmentation", async () => {
  const r = await memorisationCheck({
    runDir: path.join(tmp.dir, "run"),
    root: tmp.dir,
    profile: "smoke",
    perClass: 2,
    epochs: 30,
    batchSize: 4,
    progress: "silent",
  });
  assert.equal(r.images, 20);
  assert.equal(r.classes, 10);
  assert.equal(r.epochs, 30);
  assert.equal(r.history.length, 30);
  assert.deepEqual(r.config.schedule, { kind: "drop", after: 0.8, factor: 0.1 });
  assert.ok(r.seconds > 0);
  // Chance is 90%; a recipe that learns brings its own 20 images far below it.
  assert.ok(r.trainError <= 0.1, `training error ${r.trainError} on 20 images after 30 epochs`);
  assert.ok(r.history[r.history.length - 1].trainLoss < r.history[0].trainLoss, "the training loss fell");
  await assert.rejects(
    memorisationCheck({ runDir: path.join(tmp.dir, "bad"), root: tmp.dir, profile: "smoke", perClass: 0 }),
    /perClass must be a whole number >= 1, got 0/,
  );
});
