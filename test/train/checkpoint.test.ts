import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectEngine } from "../../lib/engine/select";
import { bestCheckpoint, checkpointName, checkpointsDir, latestCheckpoint, listCheckpoints, runCheckpoint } from "../../lib/run/run";
import { loadCheckpoint, newestIntactCheckpoint, readCheckpointInfo, saveCheckpoint, verifyCheckpoint } from "../../lib/train/checkpoint";
import { assertNoLeak, NonFiniteLossError } from "../../lib/train/guard";
import { PaperSGD } from "../../lib/train/optimizer";
import { PlateauSchedule } from "../../lib/train/schedule";
import { softmaxCrossEntropy, trainStep } from "../../lib/train/step";
import { failWrites } from "../helpers/files";
import { tempDir } from "../helpers/notebooks";
import { batchAt, SeededRandom, seedMathRandom, tensorBytes, tinyConvNet, weightBytes } from "../helpers/train";

const tmp = tempDir("alexnet-checkpoint-");
let runCount = 0;
const newRun = () => path.join(tmp.dir, `run${runCount++}`);

before(async () => {
  await selectEngine({ force: "cpu" });
});
after(() => tmp.cleanup());

function train(model: tf.LayersModel, opt: PaperSGD, from: number, to: number): number[] {
  const losses: number[] = [];
  for (let s = from; s < to; s++) {
    const { xs, ys } = batchAt(s);
    losses.push(trainStep(model, xs, ys, opt));
    tf.dispose([xs, ys]);
  }
  return losses;
}

function velocityBytes(model: tf.LayersModel, opt: PaperSGD): Buffer[] {
  return model.trainableWeights.map((w) => tensorBytes(opt.velocityOf(w.name)!));
}

test("a checkpoint round trip restores weights, velocities, step count, rate, schedule, rng and metrics exactly", async () => {
  const run = newRun();
  const model = tinyConvNet(1);
  const opt = new PaperSGD({ learningRate: 0.02 });
  const schedule = new PlateauSchedule({ patience: 1, initial: 0.02 });
  train(model, opt, 0, 3);
  schedule.step(0.6);
  opt.learningRate = schedule.step(0.7).lr;
  const rng = { mathRandom: 123456789, order: [3, 1, 2], note: "opaque" };
  const saved = await saveCheckpoint(run, {
    model,
    optimizer: opt,
    schedule,
    epoch: 2,
    step: 3,
    rng,
    metrics: { valTop1Error: 0.7, trainLoss: 1.25 },
  });
  assert.equal(saved.path, path.join(run, "checkpoints", "epoch-0002"));
  assert.deepEqual(readdirSync(saved.path).sort(), ["checkpoint.json", "model.json", "optimizer.bin", "optimizer.json", "weights.bin"]);

  const fresh = tinyConvNet(99);
  const freshOpt = new PaperSGD();
  const freshSchedule = new PlateauSchedule();
  const loaded = await loadCheckpoint(saved.path, { model: fresh, optimizer: freshOpt, schedule: freshSchedule });
  assert.equal(loaded.model, fresh);
  assert.deepEqual(weightBytes(fresh), weightBytes(model));
  assert.deepEqual(velocityBytes(fresh, freshOpt), velocityBytes(model, opt));
  assert.equal(freshOpt.stepsTaken, 3);
  assert.equal(freshOpt.learningRate, 0.002);
  assert.deepEqual(freshSchedule.getState(), schedule.getState());
  assert.deepEqual(loaded.rng, rng);
  assert.deepEqual(loaded.metrics, { valTop1Error: 0.7, trainLoss: 1.25 });
  assert.equal(loaded.epoch, 2);
  assert.equal(loaded.step, 3);
  assert.equal(loaded.lr, 0.002);

  // Without a model, it is rebuilt from model.json.
  const rebuilt = await loadCheckpoint(saved.path);
  assert.deepEqual(weightBytes(rebuilt.model), weightBytes(model));
  const info = await readCheckpointInfo(saved.path);
  assert.equal(info.schedule?.kind, "plateau");
  for (const m of [model, fresh, rebuilt.model]) m.dispose();
  for (const o of [opt, freshOpt]) o.dispose();
});

test("interrupted, saved, loaded into a fresh model and optimiser, and resumed: the same weights as an uninterrupted run, bit for bit", async () => {
  const K = 8;
  const seed = 42;
  // Uninterrupted: K steps, dropout drawing from a seeded Math.random.
  const rngA = new SeededRandom(seed);
  const restoreA = seedMathRandom(rngA);
  const modelA = tinyConvNet(7);
  const optA = new PaperSGD({ learningRate: 0.05 });
  const lossesA = train(modelA, optA, 0, K);
  restoreA();

  // Interrupted at K/2: save, throw everything away, load, carry on.
  const run = newRun();
  const rngB = new SeededRandom(seed);
  const restoreB = seedMathRandom(rngB);
  const modelB = tinyConvNet(7);
  const optB = new PaperSGD({ learningRate: 0.05 });
  const schedule = new PlateauSchedule();
  const lossesB = train(modelB, optB, 0, K / 2);
  await saveCheckpoint(run, { model: modelB, optimizer: optB, schedule, epoch: 1, step: K / 2, rng: { mathRandom: rngB.state } });
  modelB.dispose();
  optB.dispose();
  rngB.state = 0; // whatever happens in between must not matter

  const modelC = tinyConvNet(123); // different initial weights, overwritten by the checkpoint
  const optC = new PaperSGD();
  const scheduleC = new PlateauSchedule();
  const resumed = await loadCheckpoint(latestCheckpoint(run)!, { model: modelC, optimizer: optC, schedule: scheduleC });
  rngB.state = (resumed.rng as { mathRandom: number }).mathRandom;
  lossesB.push(...train(modelC, optC, resumed.step, K));
  restoreB();

  assert.deepEqual(lossesB, lossesA);
  assert.deepEqual(weightBytes(modelC), weightBytes(modelA));
  assert.deepEqual(velocityBytes(modelC, optC), velocityBytes(modelA, optA));
  assert.equal(optC.stepsTaken, optA.stepsTaken);
  for (const m of [modelA, modelC]) m.dispose();
  for (const o of [optA, optC]) o.dispose();
});

test("a crash mid-save leaves the previous checkpoint as the latest, and nothing half-written is accepted", async () => {
  const run = newRun();
  const model = tinyConvNet(2);
  const opt = new PaperSGD();
  train(model, opt, 0, 1);
  const first = await saveCheckpoint(run, { model, optimizer: opt, epoch: 1, step: 1 });
  train(model, opt, 1, 2);
  for (const crashAfter of ["model.json", "optimizer.json", "checkpoint.json"]) {
    await assert.rejects(
      saveCheckpoint(
        run,
        { model, optimizer: opt, epoch: 2, step: 2 },
        {
          afterWrite: (file) => {
            if (file === crashAfter) throw new Error("simulated crash");
          },
        },
      ),
      /simulated crash/,
    );
    assert.equal(latestCheckpoint(run), first.path);
    assert.deepEqual(readdirSync(checkpointsDir(run)), ["epoch-0001"]);
  }

  // What a killed process leaves: a temporary folder (even a complete-looking one) and a folder without checkpoint.json.
  const dir = checkpointsDir(run);
  cpSync(first.path, path.join(dir, ".epoch-0009.tmp-1234-abcd0123"), { recursive: true });
  mkdirSync(path.join(dir, "epoch-0007"));
  writeFileSync(path.join(dir, "epoch-0007", "model.json"), "{");
  assert.equal(latestCheckpoint(run), first.path);
  assert.deepEqual(listCheckpoints(run), [{ path: first.path, epoch: 1 }]);
  await assert.rejects(
    loadCheckpoint(path.join(dir, "epoch-0007")),
    /epoch-0007 is not a complete checkpoint \(no checkpoint\.json\); pass a folder like RUN\/checkpoints\/epoch-0003, e\.g\. latestCheckpoint\(RUN\)/,
  );

  // The next save clears the temporary leftovers.
  const second = await saveCheckpoint(run, { model, optimizer: opt, epoch: 2, step: 2 });
  assert.equal(latestCheckpoint(run), second.path);
  assert.ok(!existsSync(path.join(dir, ".epoch-0009.tmp-1234-abcd0123")));
  model.dispose();
  opt.dispose();
});

test("keepLast keeps the newest checkpoints and the best one by the metric; best.json points at it", async () => {
  const run = newRun();
  const model = tinyConvNet(3);
  const opt = new PaperSGD();
  const errors = [0.5, 0.4, 0.45, 0.42, 0.41, 0.43];
  const results = [];
  for (let e = 1; e <= errors.length; e++) {
    results.push(
      await saveCheckpoint(
        run,
        { model, optimizer: opt, epoch: e, step: e * 10, metrics: { valTop1Error: errors[e - 1] } },
        { keepLast: 2, best: { metric: "valTop1Error" } },
      ),
    );
  }
  assert.deepEqual(
    results.map((r) => r.isBest),
    [true, true, false, false, false, false],
  );
  assert.deepEqual(
    listCheckpoints(run).map((c) => path.basename(c.path)),
    ["epoch-0002", "epoch-0005", "epoch-0006"],
  );
  assert.deepEqual(
    results.map((r) => r.removed.map((p) => path.basename(p))),
    [[], [], ["epoch-0001"], [], ["epoch-0003"], ["epoch-0004"]],
  );
  assert.equal(bestCheckpoint(run), path.join(checkpointsDir(run), "epoch-0002"));
  assert.deepEqual(JSON.parse(readFileSync(path.join(checkpointsDir(run), "best.json"), "utf8")), {
    checkpoint: "epoch-0002",
    metric: "valTop1Error",
    mode: "min",
    value: 0.4,
  });
  assert.equal(latestCheckpoint(run), path.join(checkpointsDir(run), "epoch-0006"));
  // Evaluation takes the best by default; the claims harness asks for the last epoch's.
  assert.equal(runCheckpoint(run), path.join(checkpointsDir(run), "epoch-0002"));
  assert.equal(runCheckpoint(run, "last"), path.join(checkpointsDir(run), "epoch-0006"));

  // A new best takes over, and the old best becomes prunable.
  const better = await saveCheckpoint(
    run,
    { model, optimizer: opt, epoch: 7, step: 70, metrics: { valTop1Error: 0.3 } },
    { keepLast: 2, best: { metric: "valTop1Error" } },
  );
  assert.equal(better.isBest, true);
  assert.deepEqual(
    listCheckpoints(run).map((c) => path.basename(c.path)),
    ["epoch-0006", "epoch-0007"],
  );

  // mode "max" for accuracies.
  const acc = newRun();
  for (const [e, a] of [
    [1, 0.5],
    [2, 0.7],
    [3, 0.6],
  ])
    await saveCheckpoint(
      acc,
      { model, optimizer: opt, epoch: e, step: e, metrics: { valTop1: a } },
      { keepLast: 1, best: { metric: "valTop1", mode: "max" } },
    );
  assert.equal(bestCheckpoint(acc), path.join(checkpointsDir(acc), "epoch-0002"));
  assert.deepEqual(
    listCheckpoints(acc).map((c) => c.epoch),
    [2, 3],
  );
  model.dispose();
  opt.dispose();
});

test("saving an epoch again replaces it whole", async () => {
  const run = newRun();
  const model = tinyConvNet(4);
  const opt = new PaperSGD();
  await saveCheckpoint(run, { model, optimizer: opt, epoch: 1, step: 5, metrics: { a: 1 } });
  train(model, opt, 0, 1);
  const again = await saveCheckpoint(run, { model, optimizer: opt, epoch: 1, step: 6, metrics: { a: 2 } });
  assert.equal((await readCheckpointInfo(again.path)).step, 6);
  assert.deepEqual(readdirSync(checkpointsDir(run)), ["epoch-0001"]);
  const fresh = tinyConvNet(5);
  await loadCheckpoint(again.path, { model: fresh });
  assert.deepEqual(weightBytes(fresh), weightBytes(model));
  for (const m of [model, fresh]) m.dispose();
  opt.dispose();
});

test("a loss that becomes NaN stops the run with a message naming the last good checkpoint, which stays the latest", async () => {
  const run = newRun();
  const model = tinyConvNet(6);
  const opt = new PaperSGD();
  let step = 0;
  let lastCheckpoint: string | undefined;
  let stopped: NonFiniteLossError | undefined;
  try {
    for (let epoch = 1; epoch <= 3; epoch++) {
      for (let i = 0; i < 3; i++) {
        const { xs, ys } = batchAt(step);
        // Epoch 2, step 5: the data goes bad.
        const input = step === 4 ? tf.tidy(() => tf.div(xs, 0).mul(0)) : xs;
        step += 1;
        try {
          trainStep(model, input, ys, opt, softmaxCrossEntropy, { where: { epoch, step, lastCheckpoint } });
        } finally {
          tf.dispose([xs, ys, input]);
        }
      }
      lastCheckpoint = (await saveCheckpoint(run, { model, optimizer: opt, epoch, step })).path;
    }
  } catch (err) {
    if (!(err instanceof NonFiniteLossError)) throw err;
    stopped = err;
  }
  assert.ok(stopped, "the run should have stopped");
  const epoch1 = path.join(checkpointsDir(run), checkpointName(1));
  assert.equal(
    stopped.message,
    `loss became NaN at epoch 2 step 5 (lr 0.01); the last good checkpoint is ${epoch1}; lower --lr or check the data`,
  );
  assert.equal(latestCheckpoint(run), epoch1);
  model.dispose();
  opt.dispose();
});

test("saving and restoring leak no tensors", async () => {
  const run = newRun();
  const model = tinyConvNet(8);
  const opt = new PaperSGD();
  const schedule = new PlateauSchedule();
  train(model, opt, 0, 2);
  const saved = await assertNoLeak(() => saveCheckpoint(run, { model, optimizer: opt, schedule, epoch: 1, step: 2 }), "saveCheckpoint");
  await assertNoLeak(() => loadCheckpoint(saved.path, { model, optimizer: opt, schedule }).then(() => undefined), "loadCheckpoint");
  model.dispose();
  opt.dispose();
});

test("bad input is refused with the fix: missing metric, non-JSON rng, other architecture, other optimiser settings", async () => {
  const run = newRun();
  const model = tinyConvNet(9);
  const opt = new PaperSGD();
  await assert.rejects(
    saveCheckpoint(run, { model, optimizer: opt, epoch: 1, step: 1, metrics: { loss: 1 } }, { best: { metric: "valTop1Error" } }),
    /best is tracked by metrics\.valTop1Error, but this save's metrics have no finite valTop1Error \(got keys: loss\)/,
  );
  await assert.rejects(
    saveCheckpoint(run, { model, optimizer: opt, epoch: 1, step: 1, rng: { s: BigInt(1) } }),
    /the rng state must be plain JSON/,
  );
  await assert.rejects(
    saveCheckpoint(run, { model, optimizer: opt, epoch: 1, step: 1, rng: { s: NaN } }),
    /does not survive JSON unchanged/,
  );
  await assert.rejects(saveCheckpoint(run, { model, optimizer: opt, epoch: 1.5, step: 1 }), /epoch must be an integer >= 0, got 1\.5/);
  await assert.rejects(
    saveCheckpoint(run, { model, optimizer: tf.train.sgd(0.1) as unknown as PaperSGD, epoch: 1, step: 1 }),
    /the optimizer must be a PaperSGD/,
  );
  await assert.rejects(
    saveCheckpoint(run, { model, optimizer: opt, epoch: 1, step: 1 }, { keepLast: 0 }),
    /keepLast must be an integer >= 1 or Infinity, got 0/,
  );
  assert.equal(latestCheckpoint(run), undefined);

  train(model, opt, 0, 1);
  const saved = await saveCheckpoint(run, { model, optimizer: opt, epoch: 1, step: 1 });
  const other = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 2 })] });
  await assert.rejects(
    loadCheckpoint(saved.path, { model: other }),
    /holds 6 weights but the model has 2; restore into the architecture that was saved/,
  );
  const wide = tinyConvNet(9, 0.5);
  const wrongOpt = new PaperSGD({ weightDecay: 0.001, decayBiases: true });
  await assert.rejects(
    loadCheckpoint(saved.path, { model: wide, optimizer: wrongOpt }),
    /was trained with weightDecay 0\.0005, decayBiases false but this PaperSGD has weightDecay 0\.001, decayBiases true; construct it with the saved settings/,
  );
  await assert.rejects(loadCheckpoint(saved.path, { schedule: new PlateauSchedule() }), /was saved without a schedule/);
  for (const m of [model, other, wide]) m.dispose();
  for (const o of [opt, wrongOpt]) o.dispose();
});

test("a damaged checkpoint is refused naming the file, and newestIntactCheckpoint falls back to the one before", async () => {
  const run = newRun();
  const model = tinyConvNet(3);
  const opt = new PaperSGD({ learningRate: 0.01 });
  train(model, opt, 0, 2);
  const first = await saveCheckpoint(run, { model, optimizer: opt, epoch: 1, step: 2 }, { keepLast: Infinity });
  const digests = JSON.parse(readFileSync(path.join(first.path, "checkpoint.json"), "utf8")).files as Record<
    string,
    { bytes: number; sha256: string }
  >;
  assert.deepEqual(Object.keys(digests).sort(), ["model.json", "optimizer.bin", "optimizer.json", "weights.bin"]);
  assert.equal(digests["weights.bin"].bytes, readFileSync(path.join(first.path, "weights.bin")).length);

  const damages: [string, string, (dir: string) => void, RegExp][] = [
    [
      "truncated weights",
      "weights.bin",
      (d) => writeFileSync(path.join(d, "weights.bin"), readFileSync(path.join(d, "weights.bin")).subarray(0, 10)),
      /weights\.bin has 10 bytes, but \d+ were saved/,
    ],
    [
      "garbage optimizer.json",
      "optimizer.json",
      (d) => writeFileSync(path.join(d, "optimizer.json"), "garbage"),
      /optimizer\.json has 7 bytes/,
    ],
    [
      "checkpoint.json without its fields",
      "checkpoint.json",
      (d) => writeFileSync(path.join(d, "checkpoint.json"), JSON.stringify({ format: "alexnet-checkpoint", version: 2 })),
      /checkpoint\.json lacks or garbles epoch, step, lr, schedule, metrics, files/,
    ],
    [
      "random floats of the right length",
      "weights.bin",
      (d) => {
        const n = readFileSync(path.join(d, "weights.bin")).length;
        const random = new Float32Array(n / 4).map(() => Math.random());
        writeFileSync(path.join(d, "weights.bin"), new Uint8Array(random.buffer));
      },
      /weights\.bin is not the file that was saved \(its sha256 differs\)/,
    ],
  ];
  for (const [what, file, damage, message] of damages) {
    train(model, opt, 2, 3);
    const newest = await saveCheckpoint(run, { model, optimizer: opt, epoch: 2, step: 3 }, { keepLast: Infinity });
    damage(newest.path);
    const fresh = tinyConvNet(4);
    await assert.rejects(loadCheckpoint(newest.path, { model: fresh }), (err: Error & { file?: string }) => {
      assert.equal(err.name, "CheckpointDamagedError", what);
      assert.equal(err.file, path.join(newest.path, file), what);
      assert.match(err.message, message, what);
      return true;
    });
    const { checkpoint, skipped } = await newestIntactCheckpoint(listCheckpoints(run).map((c) => c.path));
    assert.equal(checkpoint?.path, first.path, `${what}: the resume falls back to the checkpoint before`);
    assert.deepEqual(
      skipped.map((s) => s.path),
      [newest.path],
      what,
    );
    assert.match(skipped[0].reason, message, `${what}: it says why it skipped the newest`);
    fresh.dispose();
  }
  model.dispose();
  opt.dispose();
});

test("a checkpoint saved before digests were kept (version 1) still loads, on its fields alone", async () => {
  const run = newRun();
  const model = tinyConvNet(5);
  const opt = new PaperSGD();
  const saved = await saveCheckpoint(run, { model, optimizer: opt, epoch: 1, step: 0 });
  const file = path.join(saved.path, "checkpoint.json");
  const { files: _files, ...body } = JSON.parse(readFileSync(file, "utf8"));
  writeFileSync(file, JSON.stringify({ ...body, version: 1 }));
  const info = await verifyCheckpoint(saved.path);
  assert.equal(info.epoch, 1);
  const loaded = await loadCheckpoint(saved.path);
  assert.deepEqual(weightBytes(loaded.model), weightBytes(model));
  for (const m of [model, loaded.model]) m.dispose();
  opt.dispose();
});

test("a full disk while saving names the checkpoint and keeps every earlier one intact", async () => {
  const run = newRun();
  const model = tinyConvNet(6);
  const opt = new PaperSGD();
  const first = await saveCheckpoint(run, { model, optimizer: opt, epoch: 1, step: 0 });
  const restore = failWrites("ENOSPC");
  try {
    await assert.rejects(saveCheckpoint(run, { model, optimizer: opt, epoch: 2, step: 1 }), (err: Error) => {
      assert.equal(err.name, "WriteError");
      assert.match(
        err.message,
        /^cannot write .*checkpoints\/epoch-0002: the disk is full \(ENOSPC\); the checkpoints saved before this one in .*checkpoints are kept; free some space there/,
      );
      return true;
    });
  } finally {
    restore();
  }
  assert.deepEqual(
    listCheckpoints(run).map((c) => c.path),
    [first.path],
  );
  assert.equal((await verifyCheckpoint(first.path)).epoch, 1, "the earlier checkpoint is whole");
  assert.deepEqual(
    readdirSync(path.join(run, "checkpoints")).filter((f) => f.startsWith(".")),
    [],
    "no temporary folder is left",
  );
  model.dispose();
  opt.dispose();
});
