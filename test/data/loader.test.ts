import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, truncateSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { cropImage, cropRange, lightingBasis, pcaLighting, presentationDraw, reflect, subtractMean, tenPatches } from "../../lib/data/augment";
import type { Image } from "../../lib/data/augment";
import { createLoader, epochOrder, stepsPerEpoch } from "../../lib/data/loader";
import type { Batch, LoaderOptions } from "../../lib/data/loader";
import { Random } from "../../lib/data/random";
import { finalizeDataset, ShardWriter } from "../../lib/data/shard-writer";
import { openDataset } from "../../lib/data/shards";
import type { SplitName } from "../../lib/data/types";

const root = path.resolve(__dirname, "..", "..");
const SIDE = 40;
const SHAPE: [number, number, number] = [SIDE, SIDE, 3];
const CLASSES = ["a", "b", "c", "d"];
const PREP = { size: SIDE };
let dir = "";
let noStatsDir = "";

async function writeSplit(into: string, split: SplitName, sizes: number[], seed: number, stats: boolean): Promise<void> {
  const r = new Random(seed);
  let n = 0;
  for (let s = 0; s < sizes.length; s++) {
    const writer = await ShardWriter.open(into, split, s, SHAPE, { stats, bufferBytes: 10_000, preprocessing: PREP });
    for (let i = 0; i < sizes[s]; i++, n++) {
      const pixels = Uint8Array.from({ length: SIDE * SIDE * 3 }, () => r.int(256));
      await writer.add(n % CLASSES.length, pixels, `${split}-${n}`);
    }
    await writer.finish();
  }
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "alexnet-loader-"));
  // 27 training records in three shards of different sizes, 9 validation records.
  await writeSplit(dir, "train", [10, 10, 7], 1, true);
  await writeSplit(dir, "val", [9], 2, false);
  await finalizeDataset(dir, { classes: CLASSES, preprocessing: PREP });
  noStatsDir = mkdtempSync(path.join(os.tmpdir(), "alexnet-loader-nostats-"));
  await writeSplit(noStatsDir, "val", [5], 3, false);
  await finalizeDataset(noStatsDir, { classes: CLASSES, preprocessing: PREP });
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(noStatsDir, { recursive: true, force: true });
});

/** Every batch of a loader, copied out (so release() cannot touch them). */
async function collect(options: LoaderOptions, release = false): Promise<Batch[]> {
  const loader = createLoader(dir, options);
  const out: Batch[] = [];
  try {
    for await (const b of loader) {
      out.push({ ...b, images: b.images.slice(), labels: b.labels.slice(), indices: b.indices.slice() });
      if (release) b.release();
    }
  } finally {
    await loader.close();
  }
  return out;
}

function same(a: Batch[], b: Batch[]): void {
  assert.equal(a.length, b.length, "number of batches");
  a.forEach((x, i) => {
    assert.deepEqual([x.epoch, x.step, x.shape], [b[i].epoch, b[i].step, b[i].shape], `batch ${i} position`);
    assert.deepEqual(x.indices, b[i].indices, `batch ${i} indices`);
    assert.deepEqual(x.labels, b[i].labels, `batch ${i} labels`);
    assert.ok(x.images.every((v, k) => v === b[i].images[k]), `batch ${i} images`);
  });
}

const TRAIN: LoaderOptions = { batchSize: 5, crop: 32, seed: 7, workers: 0 };

test("stepsPerEpoch and epochOrder: each epoch a fresh permutation from (seed, epoch)", () => {
  assert.equal(stepsPerEpoch(27, 5, true), 5);
  assert.equal(stepsPerEpoch(27, 5, false), 6);
  const e0 = epochOrder(27, 7, 0, true);
  assert.deepEqual([...e0].sort((a, b) => a - b), Array.from({ length: 27 }, (_, i) => i));
  assert.deepEqual(e0, epochOrder(27, 7, 0, true));
  assert.notDeepEqual(e0, epochOrder(27, 7, 1, true));
  assert.notDeepEqual(e0, epochOrder(27, 8, 0, true));
  assert.deepEqual([...epochOrder(5, 7, 3, false)], [0, 1, 2, 3, 4]);
});

test("a training batch is the records' crops, reflections and lighting drawn from (seed, epoch, index), minus the mean", async () => {
  const batches = await collect({ ...TRAIN, epochs: 2 });
  assert.equal(batches.length, 10); // 27 records, batches of 5, last 2 dropped
  const ds = openDataset(dir);
  const stats = ds.statistics();
  const basis = lightingBasis(stats, "stddev");
  const range = cropRange(SIDE, SIDE, 32);
  const flips = new Set<boolean>();
  for (const b of batches.filter((_, i) => i === 0 || i === 7)) {
    assert.deepEqual(b.shape, [5, 32, 32, 3]);
    for (let k = 0; k < b.indices.length; k++) {
      const rec = await ds.split("train").readRecord(b.indices[k]);
      assert.equal(b.labels[k], rec.label);
      const d = presentationDraw(7, b.epoch, b.indices[k], range, 0.1);
      flips.add(d.flip);
      // The paper's steps one at a time on the 40x40 record, then the crop.
      const whole: Image = { data: rec.pixels, height: SIDE, width: SIDE, channels: 3 };
      let want = cropImage(subtractMean(pcaLighting(whole, basis, d.alphas), stats.meanImage), d.x, d.y, 32);
      if (d.flip) want = reflect(want);
      const got = b.images.subarray(k * 32 * 32 * 3, (k + 1) * 32 * 32 * 3);
      want.data.forEach((v, i) => assert.ok(Math.abs(got[i] - v) < 1e-3, `epoch ${b.epoch} record ${b.indices[k]} value ${i}: ${got[i]} vs ${v}`));
    }
  }
  assert.equal(flips.size, 2, "both mirrored and plain crops occur");
  await ds.close();
});

test("train-center: training without crops and reflections is the centre crop with the same PCA lighting, in the same shuffled order", async () => {
  const plain = await collect({ ...TRAIN, augment: "train" });
  const centred = await collect({ ...TRAIN, augment: "train-center" });
  assert.equal(centred.length, plain.length, "same batches: shuffled, the last short one dropped");
  const ds = openDataset(dir);
  const stats = ds.statistics();
  const basis = lightingBasis(stats, "stddev");
  const range = cropRange(SIDE, SIDE, 32);
  for (const [i, b] of centred.entries()) {
    assert.deepEqual(b.indices, plain[i].indices, "the same order as with crops");
    for (let k = 0; k < b.indices.length; k++) {
      const rec = await ds.split("train").readRecord(b.indices[k]);
      const d = presentationDraw(7, b.epoch, b.indices[k], range, 0.1);
      const whole: Image = { data: rec.pixels, height: SIDE, width: SIDE, channels: 3 };
      const want = cropImage(subtractMean(pcaLighting(whole, basis, d.alphas), stats.meanImage), 4, 4, 32);
      const got = b.images.subarray(k * 32 * 32 * 3, (k + 1) * 32 * 32 * 3);
      want.data.forEach((v, j) => assert.ok(Math.abs(got[j] - v) < 1e-3, `record ${b.indices[k]} value ${j}: ${got[j]} vs ${v}`));
    }
  }
  await ds.close();
});

test("the same seed gives the same batches, with 0 or 2 workers and any prefetch depth", async () => {
  const a = await collect({ ...TRAIN, epochs: 2 });
  same(a, await collect({ ...TRAIN, epochs: 2 }));
  same(a, await collect({ ...TRAIN, epochs: 2, workers: 2, prefetch: 3 }, true));
  same(a, await collect({ ...TRAIN, epochs: 2, workers: 1, prefetch: 1 }));
  const other = await collect({ ...TRAIN, epochs: 2, seed: 8 });
  assert.notDeepEqual(other.map((b) => [...b.indices]), a.map((b) => [...b.indices]));
});

test("an epoch visits every record once; the next epoch reorders and re-draws", async () => {
  const batches = await collect({ ...TRAIN, epochs: 2, dropLast: false });
  assert.equal(batches.length, 12);
  for (const epoch of [0, 1]) {
    const mine = batches.filter((b) => b.epoch === epoch);
    assert.deepEqual(mine.map((b) => b.step), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(mine.map((b) => b.shape[0]), [5, 5, 5, 5, 5, 2]);
    const seen = mine.flatMap((b) => [...b.indices]).sort((x, y) => x - y);
    assert.deepEqual(seen, Array.from({ length: 27 }, (_, i) => i));
  }
  assert.notDeepEqual([...batches[0].indices], [...batches[6].indices]);
});

test("resuming at (epoch, step) gives the tail of an uninterrupted run", async () => {
  const full = await collect({ ...TRAIN, epochs: 3 });
  const resumed = await collect({ ...TRAIN, epoch: 1, step: 2, epochs: 2, workers: 2 });
  same(resumed, full.slice(5 + 2));
  const loader = createLoader(dir, TRAIN);
  const tail: Batch[] = [];
  for await (const b of loader.batches({ epoch: 2, step: 4 })) tail.push({ ...b, images: b.images.slice() });
  same(tail, full.slice(14));
  assert.throws(() => createLoader(dir, { ...TRAIN, step: 5 }), /step 5 is past the end of an epoch, which has 5 steps \(0..4\); start at step 0 of epoch 1 instead/);
});

test("center, ten-crop and none: fixed patches of the record minus the mean", async () => {
  const ds = openDataset(dir);
  const mean: Image = { data: ds.meanImage(), height: SIDE, width: SIDE, channels: 3 };
  const centered = (await collect({ batchSize: 4, crop: 32, augment: "center", workers: 0 }))[0];
  const ten = await collect({ split: "train", batchSize: 4, crop: 32, augment: "ten-crop", workers: 2 });
  const none = (await collect({ batchSize: 4, augment: "none", workers: 0 }))[0];
  assert.deepEqual(ten[0].shape, [40, 32, 32, 3]);
  assert.equal(ten[0].views, 10);
  assert.deepEqual([...ten[0].indices], [0, 1, 2, 3], "no shuffle outside training");
  assert.equal(ten.length, 7, "the last, smaller batch is kept outside training");
  assert.deepEqual(none.shape, [4, SIDE, SIDE, 3]);
  for (let k = 0; k < 4; k++) {
    const rec = await ds.split("train").readRecord(k);
    const minusMean = subtractMean({ data: rec.pixels, height: SIDE, width: SIDE, channels: 3 }, mean.data);
    const n = 32 * 32 * 3;
    const c = cropImage(minusMean, 4, 4, 32);
    c.data.forEach((v, i) => assert.ok(Math.abs(centered.images[k * n + i] - v) < 1e-4));
    tenPatches(minusMean, 32).forEach((p, v) => p.data.forEach((x, i) => assert.ok(Math.abs(ten[0].images[(k * 10 + v) * n + i] - x) < 1e-4, `patch ${v}`)));
    minusMean.data.forEach((v, i) => assert.ok(Math.abs(none.images[k * SIDE * SIDE * 3 + i] - v) < 1e-4));
  }
  // Validation defaults: centre crop, no shuffle, the last batch kept; the default crop is 224/256 of the side.
  const val = createLoader(dir, { split: "val", batchSize: 4, workers: 0 });
  assert.deepEqual([val.options.augment, val.options.shuffle, val.options.dropLast, val.options.crop, val.stepsPerEpoch], ["center", false, false, 35, 3]);
  await ds.close();
});

test("mean 'channel' and 'none' and lighting 0 change only what they say", async () => {
  const ds = openDataset(dir);
  const stats = ds.statistics();
  const plain = (await collect({ ...TRAIN, mean: "none", lighting: 0 }))[0];
  const channel = (await collect({ ...TRAIN, mean: "channel", lighting: 0 }))[0];
  const rec = await ds.split("train").readRecord(plain.indices[0]);
  const d = presentationDraw(7, 0, plain.indices[0], cropRange(SIDE, SIDE, 32));
  let want = cropImage({ data: rec.pixels, height: SIDE, width: SIDE, channels: 3 }, d.x, d.y, 32);
  if (d.flip) want = reflect(want);
  want.data.forEach((v, i) => {
    assert.equal(plain.images[i], v);
    assert.ok(Math.abs(channel.images[i] - (v - stats.channelMean[i % 3])) < 1e-4);
  });
  await ds.close();
});

test("release() hands the buffer back: the next batch reuses it and is still right", async () => {
  const loader = createLoader(dir, { ...TRAIN, epochs: 2 });
  const buffers: ArrayBufferLike[] = [];
  const copies: Float32Array[] = [];
  for await (const b of loader) {
    buffers.push(b.images.buffer);
    copies.push(b.images.slice());
    b.release();
  }
  assert.equal(buffers[1], buffers[0]);
  const fresh = await collect({ ...TRAIN, epochs: 2 });
  fresh.forEach((b, i) => assert.deepEqual(b.images, copies[i]));
});

test("batches kept without release() are never overwritten, with or without workers", async () => {
  const expected = await collect({ ...TRAIN, epochs: 3 });
  for (const workers of [0, 2]) {
    const loader = createLoader(dir, { ...TRAIN, epochs: 3, workers });
    const kept: Batch[] = [];
    for await (const b of loader) kept.push(b); // neither copied nor released
    same(kept, expected);
  }
});

test("close() stops a stream that is still being read, in-process or on workers", async () => {
  for (const workers of [0, 2]) {
    const loader = createLoader(dir, { ...TRAIN, epochs: 5, workers });
    const it = loader[Symbol.asyncIterator]();
    assert.equal((await it.next()).done, false);
    await loader.close();
    await assert.rejects(it.next(), /the loader was closed/);
  }
});

test("a read that fails on a worker reaches the consumer with the file's name", async () => {
  for (const workers of [0, 2]) {
    const copy = mkdtempSync(path.join(os.tmpdir(), "alexnet-loader-broken-"));
    try {
      cpSync(dir, copy, { recursive: true });
      const loader = createLoader(copy, { ...TRAIN, workers, shuffle: false });
      truncateSync(path.join(copy, "train-00001.bin"), 100); // after the size checks of createLoader
      await assert.rejects(
        (async () => {
          for await (const b of loader) b.release();
        })(),
        /train-00001\.bin ended before record 1\d: the shard is truncated/,
      );
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }
});

test("bad options are refused with the option's name and the fix", async () => {
  assert.throws(() => createLoader(dir, { batchSize: 0 }), /option batchSize must be an integer from 1 up, got 0/);
  assert.throws(() => createLoader(dir, { batchSize: 4, crop: 41 }), /option crop 41 is larger than the 40x40 records .* at most 40/);
  assert.throws(() => createLoader(dir, { batchSize: 4, augment: "random" as never }), /option augment must be one of train, train-center, center, ten-crop, none/);
  assert.throws(() => createLoader(dir, { batchSize: 4, split: "test" as never }), /option split must be one of train, val/);
  assert.throws(() => createLoader(dir, { split: "val", batchSize: 4, lighting: 0.1 }), /applies only with augment "train"/);
  assert.throws(() => createLoader(dir, { batchSize: 4, mean: "pixel" as never }), /option mean must be one of image, channel, none/);
  assert.throws(() => createLoader(dir, { batchSize: 4, augment: "none", crop: 32 }), /augment "none" gives whole 40x40 records/);
  assert.throws(() => createLoader(dir, { batchSize: 28 }), /27 records, fewer than one batch of 28 with dropLast; lower batchSize or pass dropLast: false/);
  assert.throws(() => createLoader(noStatsDir, { split: "val", batchSize: 2 }), /has no training statistics, which mean "image" need; .* pass mean: "none"/);
  const ok = createLoader(noStatsDir, { split: "val", batchSize: 2, mean: "none", workers: 0 });
  assert.equal(ok.stepsPerEpoch, 3);
  assert.throws(() => createLoader(path.join(dir, "nope"), { batchSize: 1 }), /does not exist/);
});

test("workers stop when a loop breaks, and a loader left half-read does not keep the process alive", async () => {
  const loaderPath = path.join(root, "lib", "data", "loader.ts");
  const code = `
    const { createLoader } = require(${JSON.stringify(loaderPath)});
    (async () => {
      const a = createLoader(${JSON.stringify(dir)}, { batchSize: 2, crop: 32, workers: 2, epochs: 1000 });
      for await (const b of a) { if (b.step === 1) break; }
      console.log("after break");
      const b = createLoader(${JSON.stringify(dir)}, { batchSize: 2, crop: 32, workers: 2, epochs: 1000 });
      const it = b[Symbol.asyncIterator]();
      await it.next();
      console.log("left half-read");
    })().catch((e) => { console.error(e); process.exit(2); });`;
  const t0 = Date.now();
  const child = spawn(process.execPath, ["--require", "ts-node/register/transpile-only", "-e", code], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const status = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  clearTimeout(timer);
  assert.equal(status, 0, `the child process should exit by itself:\n${out}`);
  assert.match(out, /after break\s+left half-read/);
  assert.ok(Date.now() - t0 < 60_000);
});
