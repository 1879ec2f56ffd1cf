import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { orderedPool, parseWorkerSlice, planShards, prepareDataset, workerShards } from "../../lib/data/prepare";
import { openDataset } from "../../lib/data/shards";
import type { DataSource, SourceRecord } from "../../lib/data/types";
import { tempDir, waitUntil } from "../helpers/notebooks";

const tmp = tempDir("alexnet-prepare-");
after(tmp.cleanup);
const root = path.resolve(__dirname, "..", "..");

/** Raw images with a label-dependent pattern, plus two bad files. */
function fakeSource(): DataSource {
  const raw = (label: number, i: number): SourceRecord => ({
    label,
    origin: `img-${label}-${i}`,
    load: async () => {
      const width = 40 + 7 * i;
      const height = 30 + 5 * label;
      const data = new Uint8Array(width * height * 3);
      for (let p = 0; p < data.length; p++) data[p] = (p * (label + 1) + i * 13) % 256;
      return { kind: "raw", data, width, height, channels: 3 };
    },
  });
  const train = [raw(0, 0), raw(1, 0), { label: 0, origin: "empty.jpg", load: async () => ({ kind: "encoded" as const, data: Buffer.alloc(0) }) }, raw(0, 1), raw(1, 1), raw(0, 2)];
  const val = [raw(1, 2), { label: 1, origin: "notes.txt", load: async () => ({ kind: "encoded" as const, data: Buffer.from("hello, not an image") }) }, raw(0, 3)];
  return { format: "fake", classes: ["a", "b"], splits: { train, val } };
}

test("parseWorkerSlice reads I/N, 1-based, and explains a bad value", () => {
  assert.deepEqual(parseWorkerSlice("2/4"), { index: 2, count: 4 });
  assert.throws(() => parseWorkerSlice("0/4"), /expected I\/N with 1 <= I <= N/);
  assert.throws(() => parseWorkerSlice("5/4"), /--shard 5\/4/);
  assert.throws(() => parseWorkerSlice("x"), /--shard x/);
});

test("planShards cuts each split into fixed source ranges; workers take every N-th shard", () => {
  const plan = planShards(fakeSource(), 4);
  assert.deepEqual(plan.map((j) => [j.split, j.index, j.records.length]), [["train", 0, 4], ["train", 1, 2], ["val", 0, 3]]);
  assert.deepEqual(workerShards([0, 1, 2, 3, 4], { index: 1, count: 2 }), [0, 2, 4]);
  assert.deepEqual(workerShards([0, 1, 2, 3, 4], { index: 2, count: 2 }), [1, 3]);
  assert.deepEqual(workerShards([0, 1], undefined), [0, 1]);
});

test("orderedPool keeps input order however long each item takes, with bounded concurrency", async () => {
  let inFlight = 0;
  let most = 0;
  const out: number[] = [];
  await orderedPool([30, 5, 20, 1, 10], 2, async (ms) => {
    inFlight++;
    most = Math.max(most, inFlight);
    await new Promise((r) => setTimeout(r, ms));
    inFlight--;
    return ms;
  }, (r) => void out.push(r));
  assert.deepEqual(out, [30, 5, 20, 1, 10]);
  assert.ok(most <= 3, `at most limit + 1 in flight while the sink runs (saw ${most})`);
});

test("prepareDataset writes both splits, skips bad images with reasons, and computes statistics", async () => {
  const out = path.join(tmp.dir, "fake");
  const report = await prepareDataset({ source: fakeSource(), out, size: 16, recordsPerShard: 4, progress: "silent" });
  assert.deepEqual(report.written, { train: 5, val: 2 });
  assert.deepEqual(report.skipped.map((s) => [s.origin, s.reason.split(":")[0]]), [["empty.jpg", "empty file"], ["notes.txt", "not an image"]]);
  assert.deepEqual(report.skippedByReason, { "empty file": 1, "not an image": 1 });
  assert.ok(report.manifest);
  const ds = openDataset(out);
  try {
    assert.deepEqual(ds.recordShape, [16, 16, 3]);
    assert.equal(ds.split("train").length, 5);
    assert.deepEqual(ds.split("train").classCounts, [3, 2]);
    assert.equal(ds.manifest.splits.train?.skipped, 1);
    const first = await ds.split("train").readRecord(0);
    assert.equal(first.origin, "img-0-0");
    const stats = ds.statistics();
    assert.equal(stats.images, 5);
    assert.equal(ds.meanImage().length, 16 * 16 * 3);
    assert.equal((ds.manifest.preprocessing as { size: number }).size, 16);
  } finally {
    ds.close();
  }
});

test("prepareDataset keeps images in flight across shard ends, and reports where its time went", async () => {
  // Shards of 2 records with 4 jobs: a pool per shard would never have more than 2 images loading at once.
  let loading = 0;
  let most = 0;
  const base = fakeSource();
  const slow = (r: SourceRecord): SourceRecord => ({
    ...r,
    load: async () => {
      most = Math.max(most, ++loading);
      await new Promise((resolve) => setTimeout(resolve, 5));
      loading--;
      return r.load();
    },
  });
  const train = [...base.splits.train!, ...base.splits.train!].filter((r) => r.origin.startsWith("img")).map(slow);
  const out = path.join(tmp.dir, "flight");
  const report = await prepareDataset({ source: { ...base, splits: { train } }, out, size: 8, recordsPerShard: 2, jobs: 4, progress: "silent" });
  assert.equal(most, 4);
  assert.deepEqual(report.shards, { done: 5, resumed: 0, total: 5 });
  // Order is kept across the shard ends: record k of the source is record k of the split.
  const ds = openDataset(out);
  try {
    for (let k = 0; k < train.length; k++) assert.equal((await ds.split("train").readRecord(k)).origin, train[k].origin);
  } finally {
    ds.close();
  }
  const { images, finalize, verify } = report.phases;
  assert.ok(images > 0 && finalize > 0 && verify > 0, JSON.stringify(report.phases));
  assert.ok(images + finalize + verify <= report.seconds, `${JSON.stringify(report.phases)} within ${report.seconds} s`);
});

test("two workers each prepare their share; the last one writes the same dataset a single run does", async () => {
  const single = path.join(tmp.dir, "single");
  await prepareDataset({ source: fakeSource(), out: single, size: 8, recordsPerShard: 2, progress: "silent" });
  const split = path.join(tmp.dir, "split");
  const first = await prepareDataset({ source: fakeSource(), out: split, size: 8, recordsPerShard: 2, worker: { index: 1, count: 2 }, progress: "silent" });
  assert.equal(first.manifest, undefined);
  assert.match(first.pending ?? "", /shards are not done yet/);
  assert.equal(existsSync(path.join(split, "manifest.json")), false);
  const second = await prepareDataset({ source: fakeSource(), out: split, size: 8, recordsPerShard: 2, worker: { index: 2, count: 2 }, progress: "silent" });
  assert.ok(second.manifest);
  const shas = (dir: string) => JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")).splits;
  assert.deepEqual(shas(split), shas(single));
  assert.deepEqual(readFileSync(path.join(split, "mean.f32")), readFileSync(path.join(single, "mean.f32")));
});

test("an interrupted `alexnet prepare` leaves no manifest, and the same command resumes to the same dataset", async () => {
  const args = (out: string) => [path.join(root, "bin", "alexnet.js"), "prepare", "--format", "synthetic", "--out", out, "--size", "32", "--train-per-class", "6", "--val-per-class", "2", "--records-per-shard", "8", "--jobs", "2", "--json"];
  const run = (out: string) =>
    new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const p = spawn(process.execPath, args(out), { cwd: root });
      let stdout = "";
      p.stdout.on("data", (d) => (stdout += d));
      p.stderr.on("data", () => undefined);
      p.on("exit", (code) => resolve({ code, stdout }));
    });
  const whole = path.join(tmp.dir, "whole");
  assert.equal((await run(whole)).code, 0);

  const resumed = path.join(tmp.dir, "resumed");
  const child = spawn(process.execPath, args(resumed), { cwd: root, stdio: "ignore" });
  const sidecars = () => (existsSync(resumed) ? readdirSync(resumed).filter((f) => /^train-\d+\.json$/.test(f)).length : 0);
  assert.ok(await waitUntil(() => sidecars() >= 2, 60_000), "two shards finish");
  child.kill("SIGKILL");
  await new Promise((r) => child.on("exit", r));
  assert.equal(existsSync(path.join(resumed, "manifest.json")), false, "an interrupted run is not complete");
  assert.throws(() => openDataset(resumed), /no manifest\.json/);

  const again = await run(resumed);
  assert.equal(again.code, 0);
  const report = JSON.parse(again.stdout.trim().split("\n").at(-1)!);
  assert.ok(report.shards.resumed >= 2, `finished shards are not redone (resumed ${report.shards.resumed})`);
  assert.equal(report.complete, true);
  const manifest = (dir: string) => JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8"));
  assert.deepEqual(manifest(resumed).splits, manifest(whole).splits);
  assert.deepEqual(readFileSync(path.join(resumed, "mean.f32")), readFileSync(path.join(whole, "mean.f32")));
});
