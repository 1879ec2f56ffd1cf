import assert from "node:assert/strict";
import { mkdirSync, statSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { selectEngine } from "../../lib/engine/select";
import { meanCurves, transferExperiment } from "../../lib/train/transfer";
import { tempDir } from "../helpers/notebooks";

const tmp = tempDir("alexnet-transfer-");
after(tmp.cleanup);
before(async () => {
  await selectEngine({ force: "wasm", wasmThreads: 1 });
  mkdirSync(path.join(tmp.dir, "data"), { recursive: true });
});

test("offline transfer, smoke size: pre-train on five embedded classes, fine-tune on the other five three ways over two seeds, and reuse finished runs", async () => {
  const options = {
    workDir: path.join(tmp.dir, "work"),
    root: tmp.dir,
    profile: "smoke",
    fineTunePerClass: 2,
    fineTuneValPerClass: 2,
    fineTuneEpochs: 2,
    seeds: [1, 2],
    progress: "silent" as const,
  };
  const r = await transferExperiment(options);
  assert.equal(r.pretrain.classes.length, 5);
  assert.equal(r.pretrain.images, 60, "the smoke set's 12 per class, for five classes");
  assert.deepEqual(r.fineTune.classes, ["ringed-disc", "dashed-triangle", "plain-square", "speckled-star", "mottled-cross"]);
  assert.equal(r.fineTune.trainImages, 10);
  assert.equal(r.runs.length, 6);
  assert.deepEqual(
    r.summary.map((s) => [s.mode, s.runs]),
    [
      ["frozen", 2],
      ["slow-features", 2],
      ["scratch", 2],
    ],
  );
  for (const g of r.gaps) {
    assert.equal(g.perSeed.length, 2);
    const scratch = r.runs.filter((x) => x.mode === "scratch").map((x) => x.valTop1Error);
    const mode = r.runs.filter((x) => x.mode === g.mode).map((x) => x.valTop1Error);
    assert.deepEqual(
      g.perSeed,
      [scratch[0] - mode[0], scratch[1] - mode[1]],
      "gaps are scratch minus the pretrained start, paired by seed",
    );
    assert.ok(Math.abs(g.mean - (g.perSeed[0] + g.perSeed[1]) / 2) < 1e-12);
  }
  const curves = meanCurves(r);
  assert.equal(curves.length, 3);
  assert.equal(curves[0].history.length, 2);
  // The frozen run started from the pretrained features and replaced fc8 for the new classes.
  const frozen = r.runs.find((x) => x.mode === "frozen")!;
  assert.ok(frozen.history.length === 2);

  // A second call finds every run finished and trains nothing again.
  const stamp = statSync(path.join(r.pretrain.runDir, "metrics.jsonl")).mtimeMs;
  const again = await transferExperiment(options);
  assert.equal(statSync(path.join(r.pretrain.runDir, "metrics.jsonl")).mtimeMs, stamp);
  assert.deepEqual(again.summary, r.summary);

  await assert.rejects(transferExperiment({ ...options, pretrainClasses: [0, 1, 5], fineTuneClasses: [5, 6] }), /overlap/);
});
