// The run folder's files: run.json written whole, metrics.jsonl appended and cut
// back to the epochs a resume keeps.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import {
  appendRunMetrics,
  clearInterrupted,
  type EpochMetrics,
  interruptedDir,
  isCheckpointFolder,
  isRunFolder,
  keepRunMetrics,
  openRunFolder,
  type RunFolderStart,
  readRunConfig,
  readRunMetrics,
  type RunConfig,
  writeRunConfig,
} from "../../lib/run/run";
import { tempDir } from "../helpers/notebooks";

const tmp = tempDir("alexnet-run-");
after(() => tmp.cleanup());

test("run.json is written whole and read back; a folder without it is no run, with an error naming the file", () => {
  const dir = path.join(tmp.dir, "run");
  mkdirSync(dir);
  assert.equal(isRunFolder(dir), false);
  assert.throws(() => readRunConfig(dir), /run\/run\.json is missing: .* is not a training run folder/);
  const config = {
    profile: "smoke",
    data: "/d",
    model: "mini",
    modelOptions: {},
    epochs: 2,
    batchSize: 8,
    lr: 0.01,
    momentum: 0.9,
    weightDecay: 5e-4,
    schedule: { kind: "step", every: 1, factor: 0.1 },
    seed: 1,
    crop: 64,
    inputScale: 1,
    lighting: 0.1,
  } as RunConfig;
  writeRunConfig(dir, config);
  assert.equal(isRunFolder(dir), true);
  assert.deepEqual(readRunConfig(dir), config);
  assert.deepEqual(readdirSync(dir), ["run.json"], "no temporary file is left");
  writeFileSync(path.join(dir, "run.json"), "{ half");
  assert.throws(() => readRunConfig(dir), /run\.json is not valid JSON .*start a new run folder/);
  assert.equal(isCheckpointFolder(dir), false);
});

test("metrics.jsonl: appended per epoch, read in order, cut back to the epochs a resume keeps", () => {
  const dir = path.join(tmp.dir, "metrics");
  mkdirSync(dir);
  assert.deepEqual(readRunMetrics(dir), [], "no file, no epochs");
  const epoch = (n: number) => ({ epoch: n, valTop1Error: 1 / n }) as unknown as EpochMetrics;
  for (const n of [1, 2, 3]) appendRunMetrics(dir, epoch(n));
  assert.deepEqual(
    readRunMetrics(dir).map((m) => m.epoch),
    [1, 2, 3],
  );
  assert.deepEqual(
    keepRunMetrics(dir, 2).map((m) => m.epoch),
    [1, 2],
  );
  assert.deepEqual(
    readRunMetrics(dir).map((m) => m.epoch),
    [1, 2],
    "epoch 3 is gone from the file",
  );
  assert.deepEqual(keepRunMetrics(dir, 0), []);
  assert.equal(existsSync(path.join(dir, "metrics.jsonl")), false, "a fresh start keeps no file");
  // An epoch's line cut short: reading names the file and line; a fresh start removes it without reading it.
  appendRunMetrics(dir, epoch(1));
  writeFileSync(path.join(dir, "metrics.jsonl"), `${JSON.stringify(epoch(1))}\n{"epoch": 2, "val`, { flag: "w" });
  assert.throws(() => readRunMetrics(dir), /metrics\.jsonl line 2 is not valid JSON .*delete that line/);
  assert.deepEqual(keepRunMetrics(dir, 0), []);
  assert.equal(existsSync(path.join(dir, "metrics.jsonl")), false);
});

/** openRunFolder's answer without its replace function (checked on its own below). */
function opened(dir: string, resume: boolean): Omit<RunFolderStart, "replace"> {
  const { replace: _replace, ...rest } = openRunFolder(dir, resume);
  return rest;
}

test("openRunFolder: a new folder starts, one with checkpoints only resumes when asked and when its settings are there", () => {
  const dir = path.join(tmp.dir, "folder");
  assert.deepEqual(opened(dir, false), { saved: undefined, latest: undefined, interrupted: undefined, restoring: false });
  assert.deepEqual(
    opened(dir, true),
    { saved: undefined, latest: undefined, interrupted: undefined, restoring: false },
    "resuming a run that never saved a checkpoint starts it",
  );
  // A mid-epoch checkpoint alone (a run stopped in its first epoch).
  const part = path.join(interruptedDir(dir), "checkpoints", "epoch-0000");
  mkdirSync(part, { recursive: true });
  writeFileSync(path.join(part, "checkpoint.json"), "{}");
  assert.equal(interruptedDir(dir), path.join(dir, "interrupted"));
  assert.throws(() => openRunFolder(dir, false), /already holds checkpoints of a run; pass resume \(--resume\)/);
  assert.throws(() => openRunFolder(dir, true), /run\.json is missing, so the run's settings are unknown/);
  const config = {
    profile: "smoke",
    data: "/d",
    model: "mini",
    modelOptions: {},
    epochs: 2,
    batchSize: 8,
    lr: 0.01,
    momentum: 0.9,
    weightDecay: 5e-4,
    schedule: { kind: "step", every: 1, factor: 0.1 },
    seed: 1,
    crop: 64,
    inputScale: 1,
    lighting: 0.1,
  } as RunConfig;
  writeRunConfig(dir, config);
  const epoch = path.join(dir, "checkpoints", "epoch-0001");
  mkdirSync(epoch, { recursive: true });
  writeFileSync(path.join(epoch, "checkpoint.json"), "{}");
  assert.deepEqual(opened(dir, true), { saved: config, latest: epoch, interrupted: part, restoring: true });
  clearInterrupted(dir);
  assert.equal(existsSync(interruptedDir(dir)), false);
  clearInterrupted(dir); // nothing left to remove is no error
  assert.equal(openRunFolder(dir, true).interrupted, undefined);
  // --force without --resume: a fresh start, but the old run goes only when replace() is called.
  const forced = openRunFolder(dir, false, true);
  assert.equal(forced.restoring, false);
  assert.ok(existsSync(epoch), "nothing is removed before replace()");
  forced.replace();
  assert.equal(existsSync(path.join(dir, "checkpoints")), false);
  assert.ok(existsSync(path.join(dir, "run.json")), "the settings are the new run's to write");
});
