// What a hostile or unlucky user meets (issue 16): two trainers in one folder,
// a damaged newest checkpoint, --resume-from, a folder holding other files,
// and a damaged shard under --verify.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { openDataset } from "../../lib/data/shards";
import { selectEngine } from "../../lib/engine/select";
import { evaluateRun } from "../../lib/eval/report";
import { LOCK_FILE, listCheckpoints, readRunMetrics } from "../../lib/run/run";
import { type TrainOptions, train } from "../../lib/train/trainer";
import { tempDir } from "../helpers/notebooks";
import { prepareTinySet } from "../helpers/train";

const root = path.resolve(__dirname, "..", "..");
const tmp = tempDir("alexnet-reliability-");
let data = "";
let runs = 0;
const newRun = () => path.join(tmp.dir, `run${runs++}`);
const alexnet = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(root, "bin", "alexnet.js"), ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, ALEXNET_BACKEND: "cpu" },
  });

before(async () => {
  await selectEngine({ force: "cpu" });
  data = path.join(tmp.dir, "data");
  await prepareTinySet(data, { seed: 3, classes: 10, trainPerClass: 4, valPerClass: 2 });
});
after(() => tmp.cleanup());

const base = (runDir: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
  runDir,
  data,
  profile: "smoke",
  modelOptions: { widthMultiplier: 0.125, fcUnits: 32 },
  crop: 64,
  batchSize: 8,
  epochs: 2,
  seed: 5,
  workers: 0,
  keepLast: 10,
  progress: "silent",
  ...extra,
});
const epochsIn = (runDir: string) => readRunMetrics(runDir).map((m) => m.epoch);

test("a second trainer or --resume on a run in progress is refused naming the holder; the first run is unaffected", async () => {
  const out = newRun();
  const args = ["train", "--data", data, "--out", out, "--model", "mini", "--batch", "8", "--epochs", "6", "--workers", "0"];
  const first = spawn(process.execPath, [path.join(root, "bin", "alexnet.js"), ...args], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ALEXNET_BACKEND: "cpu" },
  });
  let firstErr = "";
  first.stderr.on("data", (d) => (firstErr += d));
  const firstExit = new Promise<number | null>((resolve) => first.on("exit", resolve));
  while (!existsSync(path.join(out, LOCK_FILE)) && first.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  const second = alexnet(...args);
  const resumed = alexnet("train", "--out", out, "--resume");
  const code = await firstExit;
  assert.equal(code, 0, firstErr);
  for (const [what, r] of [
    ["a second train", second],
    ["--resume", resumed],
  ] as const) {
    assert.equal(r.status, 2, `${what}: ${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(`${out.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is in use by process ${first.pid} on .* \\(alexnet train, since`),
      what,
    );
  }
  assert.deepEqual(epochsIn(out), [1, 2, 3, 4, 5, 6], "metrics.jsonl holds the first run's epochs, once each");
  assert.equal(existsSync(path.join(out, LOCK_FILE)), false, "the lock goes with the run");
});

test("--resume skips a damaged newest checkpoint, says so, moves it aside and goes on from the one before", async () => {
  const runDir = newRun();
  (await train(base(runDir))).model.dispose();
  const [one, two] = listCheckpoints(runDir).map((c) => c.path);
  writeFileSync(path.join(two, "weights.bin"), readFileSync(path.join(two, "weights.bin")).subarray(0, 100));
  let note = "";
  const r = await train(base(runDir, { resume: true, epochs: 3, onStart: (s) => void (note = s.note) }));
  r.model.dispose();
  assert.equal(r.resumedFrom, one);
  assert.match(note, new RegExp(`skipped ${two.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: loadCheckpoint: .*weights\\.bin has 100 bytes`));
  assert.match(note, /moved epoch-0002 to .*superseded/);
  assert.ok(existsSync(path.join(runDir, "superseded", "epoch-0002", "weights.bin")), "kept, not deleted");
  assert.deepEqual(epochsIn(runDir), [1, 2, 3]);
  assert.deepEqual(
    listCheckpoints(runDir).map((c) => c.epoch),
    [1, 2, 3],
  );
});

test("--resume-from picks a checkpoint; newer ones go to RUN/superseded/; a checkpoint of another run is refused", async () => {
  const runDir = newRun();
  (await train(base(runDir, { epochs: 3 }))).model.dispose();
  const first = listCheckpoints(runDir)[0].path;
  const r = await train(base(runDir, { resumeFrom: first, epochs: 3 }));
  r.model.dispose();
  assert.equal(r.resumedFrom, first);
  assert.deepEqual(readdirSync(path.join(runDir, "superseded")).sort(), ["epoch-0002", "epoch-0003"]);
  assert.deepEqual(epochsIn(runDir), [1, 2, 3]);
  const other = newRun();
  (await train(base(other, { epochs: 1 }))).model.dispose();
  await assert.rejects(
    train(base(runDir, { resumeFrom: listCheckpoints(other)[0].path })),
    /is not a checkpoint of .*; pick one of checkpoints\/epoch-0001/,
  );
});

test("a folder holding other files is refused with what is in it; --force writes beside them; a finished run needs --resume or --force", async () => {
  const runDir = newRun();
  mkdirSync(runDir);
  writeFileSync(path.join(runDir, "thesis.tex"), "mine");
  await assert.rejects(train(base(runDir, { epochs: 1 })), (err: Error) => {
    assert.equal(err.name, "FolderInUseError");
    assert.match(err.message, /holds files that are not a training run's \(thesis\.tex\)/);
    return true;
  });
  assert.deepEqual(readdirSync(runDir), ["thesis.tex"], "nothing was written");
  (await train(base(runDir, { epochs: 1, force: true }))).model.dispose();
  assert.equal(readFileSync(path.join(runDir, "thesis.tex"), "utf8"), "mine");
  rmSync(path.join(runDir, "thesis.tex"));
  await assert.rejects(
    train(base(runDir, { epochs: 1, force: false })),
    /already holds checkpoints of a run; pass resume \(--resume\) to continue it, --force to replace it/,
  );
  (await train(base(runDir, { epochs: 1, force: true }))).model.dispose();
  assert.deepEqual(epochsIn(runDir), [1], "--force started the run anew");
});

test("--verify refuses a damaged shard before training, naming it; without it the damaged labels are refused when read", async () => {
  const bad = path.join(tmp.dir, "bad-data");
  cpSync(data, bad, { recursive: true });
  const ds = openDataset(bad);
  const shard = path.join(bad, ds.manifest.splits.train!.shards[0].file);
  await ds.close();
  const bytes = readFileSync(shard);
  bytes.set([0xfa, 0xff, 0xff, 0xff], 0); // record 0's label: -6
  writeFileSync(shard, bytes);
  const runDir = newRun();
  await assert.rejects(
    train(base(runDir, { data: bad, verify: true })),
    (err: Error) => err.name === "DamagedShardError" && /1 of \d+ shards differ from the manifest/.test(err.message),
  );
  assert.equal(existsSync(runDir), false, "a refused run leaves no folder behind");
  await assert.rejects(train(base(newRun(), { data: bad })), /record 0 has label -6/);
  const good = newRun();
  (await train(base(good, { epochs: 1 }))).model.dispose();
  await assert.rejects(
    evaluateRun(good, { data: bad, verify: true, queries: 0, gallery: 0, workers: 0 }),
    (err: Error) => err.name === "DamagedShardError" && err.message.includes(shard),
  );
});

test("a damaged epoch checkpoint behind a newer mid-epoch one is moved aside too, and later saves are not blocked by it", async () => {
  const runDir = newRun();
  (await train(base(runDir, { epochs: 1 }))).model.dispose();
  const controller = new AbortController();
  const stopped = await train(
    base(runDir, { resume: true, epochs: 2, signal: controller.signal, onStep: (s) => s.step === 1 && controller.abort() }),
  );
  stopped.model.dispose();
  assert.equal(stopped.status, "interrupted");
  const epochOne = listCheckpoints(runDir)[0].path;
  writeFileSync(path.join(epochOne, "checkpoint.json"), "{ garbled");
  const r = await train(base(runDir, { resume: true, epochs: 2 }));
  r.model.dispose();
  assert.match(r.resumedFrom ?? "", /interrupted/);
  assert.ok(existsSync(path.join(runDir, "superseded", "epoch-0001")), "the damaged epoch-0001 was moved aside");
  assert.deepEqual(
    listCheckpoints(runDir).map((c) => c.epoch),
    [2],
  );
  assert.deepEqual(epochsIn(runDir), [1, 2]);
});

test("--resume-from on a folder with no checkpoints is refused; --force with a bad option keeps the old run; a failed resume moves nothing", async () => {
  await assert.rejects(
    train(base(newRun(), { resumeFrom: path.join(tmp.dir, "nowhere", "checkpoints", "epoch-0001") })),
    /is not a checkpoint of/,
  );
  const runDir = newRun();
  const own = path.join(tmp.dir, "own-data");
  cpSync(data, own, { recursive: true });
  (await train(base(runDir, { data: own }))).model.dispose();
  await assert.rejects(train(base(runDir, { data: own, force: true, init: path.join(tmp.dir, "no-such-model") })));
  assert.deepEqual(
    listCheckpoints(runDir).map((c) => c.epoch),
    [1, 2],
    "the run --force would replace is still there",
  );
  rmSync(path.join(own, "manifest.json"));
  await assert.rejects(train(base(runDir, { data: own, resumeFrom: listCheckpoints(runDir)[0].path })), /manifest\.json is missing/);
  assert.deepEqual(
    listCheckpoints(runDir).map((c) => c.epoch),
    [1, 2],
    "nothing was moved aside",
  );
  assert.equal(existsSync(path.join(runDir, "superseded")), false);
});

test("what a crash leaves in a run folder (a temporary, a lock moved aside) does not make it someone else's", async () => {
  const runDir = newRun();
  (await train(base(runDir, { epochs: 1 }))).model.dispose();
  writeFileSync(path.join(runDir, "run.json.tmp-123-abcd1234"), "{");
  writeFileSync(path.join(runDir, "run.lock.stale-123"), "");
  const r = await train(base(runDir, { resume: true, epochs: 2 }));
  r.model.dispose();
  assert.deepEqual(epochsIn(runDir), [1, 2]);
});
