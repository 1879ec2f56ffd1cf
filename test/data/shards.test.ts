import assert from "node:assert/strict";
import { Random } from "../../lib/data/random";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { MANIFEST_FILE, recordBytes } from "../../lib/data/shard-format";
import { completedShard, finalizeDataset, ShardWriter, type ShardWriterOptions } from "../../lib/data/shard-writer";
import { type DataRecord, openDataset } from "../../lib/data/shards";
import { accumulate, emptyStats, finalizeStats } from "../../lib/data/stats";
import type { ImageShape } from "../../lib/data/stats";
import type { SplitName } from "../../lib/data/types";

const SHAPE: ImageShape = [8, 8, 3];
const CLASSES = ["cat", "dog", "emu"];
const PREP = { size: 8, kernel: "lanczos3", format: "synthetic" };

function rng(seed: number): () => number {
  const random = new Random(seed);
  return () => random.next();
}

interface Rec {
  label: number;
  pixels: Uint8Array;
  origin: string;
}

function makeRecords(count: number, seed: number, prefix: string): Rec[] {
  const random = rng(seed);
  return Array.from({ length: count }, (_, i) => ({
    label: Math.floor(random() * CLASSES.length),
    pixels: Uint8Array.from({ length: SHAPE[0] * SHAPE[1] * SHAPE[2] }, () => Math.floor(random() * 256)),
    origin: `${prefix}/img-${i}.jpg`,
  }));
}

async function writeShard(dir: string, split: SplitName, index: number, records: Rec[], options: ShardWriterOptions = {}): Promise<void> {
  const writer = await ShardWriter.open(dir, split, index, SHAPE, { preprocessing: PREP, stats: split === "train", bufferBytes: 500, ...options });
  for (const r of records) await writer.add(r.label, r.pixels, r.origin);
  await writer.finish();
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "alexnet-shards-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function assertSameRecord(actual: DataRecord, expected: Rec, index: number): void {
  assert.equal(actual.index, index);
  assert.equal(actual.label, expected.label, `label of record ${index}`);
  assert.deepEqual(Array.from(actual.pixels), Array.from(expected.pixels), `pixels of record ${index}`);
  assert.equal(actual.origin, expected.origin);
}

/** Train in three shards of 5, 5, 3 records; val in one of 4; finalized. */
async function smallDataset(dir: string): Promise<{ train: Rec[]; val: Rec[] }> {
  const train = makeRecords(13, 1, "train");
  const val = makeRecords(4, 2, "val");
  await writeShard(dir, "train", 0, train.slice(0, 5));
  await writeShard(dir, "train", 1, train.slice(5, 10));
  await writeShard(dir, "train", 2, train.slice(10));
  await writeShard(dir, "val", 0, val);
  await finalizeDataset(dir, { classes: CLASSES, preprocessing: PREP, created: { by: "test" } });
  return { train, val };
}

test("records come back identical by index, in batches and streamed, across shards", async (t) => {
  const dir = tempDir(t);
  const { train, val } = await smallDataset(dir);
  const ds = openDataset(dir);
  t.after(() => ds.close());
  assert.deepEqual(ds.splitNames, ["train", "val"]);
  assert.deepEqual(ds.recordShape, SHAPE);
  const split = ds.split("train");
  assert.equal(split.length, 13);
  assert.equal(ds.split("val").length, 4);

  for (let i = 0; i < train.length; i++) assertSameRecord(await split.readRecord(i), train[i], i);
  const noOrigin = await split.readRecord(7, { origins: false });
  assert.equal(noOrigin.origin, undefined);

  const indices = [12, 0, 5, 4, 4, 9, 6, 1];
  const batch = await split.readBatch(indices);
  assert.deepEqual(batch.shape, [8, 8, 8, 3]);
  const size = 8 * 8 * 3;
  indices.forEach((i, k) => {
    assert.equal(batch.labels[k], train[i].label);
    assert.deepEqual(Array.from(batch.pixels.subarray(k * size, (k + 1) * size)), Array.from(train[i].pixels), `batch entry ${k}`);
    assert.equal(batch.origins?.[k], train[i].origin);
  });

  for (const chunkRecords of [undefined, 1, 2, 4]) {
    const seen: DataRecord[] = [];
    for await (const r of split.records({ chunkRecords })) seen.push(r);
    assert.equal(seen.length, 13);
    seen.forEach((r, i) => assertSameRecord(r, train[i], i));
  }
  const middle: DataRecord[] = [];
  for await (const r of split.records({ start: 3, end: 11, chunkRecords: 3 })) middle.push(r);
  assert.deepEqual(middle.map((r) => r.index), [3, 4, 5, 6, 7, 8, 9, 10]);
  middle.forEach((r) => assertSameRecord(r, train[r.index], r.index));
  let k = 0;
  for await (const r of ds.split("val")) assertSameRecord(r, val[k], k++);
  assert.equal(k, 4);

  assert.deepEqual(Array.from(split.labels()), train.map((r) => r.label));
  assert.equal(split.origin(11), "train/img-11.jpg");
  assert.deepEqual(split.classCounts, CLASSES.map((_, c) => train.filter((r) => r.label === c).length));
  await assert.rejects(split.readRecord(13), /record 13 is outside split train .* 13 records/);
  assert.throws(() => split.origin(-1), RangeError);
});

test("the manifest and statistics describe the training split", async (t) => {
  const dir = tempDir(t);
  const { train, val } = await smallDataset(dir);
  const ds = openDataset(dir);
  t.after(() => ds.close());
  const m = ds.manifest;
  assert.equal(m.format, "alexnet-dataset");
  assert.deepEqual(m.classes, CLASSES);
  assert.deepEqual(m.preprocessing, PREP);
  assert.equal(m.created.by, "test");
  assert.equal(m.recordBytes, 4 + 192);
  assert.deepEqual(m.splits.train?.shards.map((s) => [s.file, s.records]), [["train-00000.bin", 5], ["train-00001.bin", 5], ["train-00002.bin", 3]]);
  assert.equal(m.splits.val?.count, val.length);
  assert.match(m.splits.train?.shards[0].sha256 ?? "", /^[0-9a-f]{64}$/);

  const expected = emptyStats(SHAPE);
  for (const r of train) accumulate(expected, r.pixels);
  const want = finalizeStats(expected);
  assert.deepEqual(ds.statistics(), want);
  assert.deepEqual(ds.meanImage(), want.meanImage);
  // mean.f32 is float32 little-endian, HWC.
  const raw = readFileSync(path.join(dir, "mean.f32"));
  assert.equal(raw.length, 8 * 8 * 3 * 4);
  assert.equal(raw.readFloatLE(4 * 50), want.meanImage[50]);
  const statsJson = JSON.parse(readFileSync(path.join(dir, "stats.json"), "utf8"));
  assert.deepEqual(statsJson.eigenvectors, want.eigenvectors);
  assert.equal(statsJson.units, "pixel values 0..255");
});

test("shard bytes follow the documented layout: [int32 LE label][H*W*C uint8] records, no header", async (t) => {
  const dir = tempDir(t);
  const { train } = await smallDataset(dir);
  const bytes = readFileSync(path.join(dir, "train-00001.bin"));
  const rb = 4 + 8 * 8 * 3;
  assert.equal(recordBytes(SHAPE), rb);
  assert.equal(bytes.length, 5 * rb);
  for (let j = 0; j < 5; j++) {
    const expected = train[5 + j];
    assert.equal(bytes.readInt32LE(j * rb), expected.label);
    assert.deepEqual(Array.from(bytes.subarray(j * rb + 4, (j + 1) * rb)), Array.from(expected.pixels));
  }
  // HWC: the value at (y, x, c) of record j is at j*rb + 4 + (y*W + x)*C + c.
  const [y, x, c] = [6, 2, 1];
  assert.equal(bytes[3 * rb + 4 + (y * 8 + x) * 3 + c], train[8].pixels[(y * 8 + x) * 3 + c]);
  const sidecar = JSON.parse(readFileSync(path.join(dir, "train-00001.json"), "utf8"));
  assert.deepEqual(sidecar.origins, train.slice(5, 10).map((r) => r.origin));
  assert.deepEqual(sidecar.labels, train.slice(5, 10).map((r) => r.label));
  // The partial pixel sums are float64 little-endian, HWC.
  const sums = readFileSync(path.join(dir, sidecar.stats.file));
  assert.equal(sums.readDoubleLE(8 * 17), train.slice(5, 10).reduce((s, r) => s + r.pixels[17], 0));
});

test("verify() names a shard whose bytes changed; a truncated shard is refused on open", async (t) => {
  const dir = tempDir(t);
  await smallDataset(dir);
  const clean = openDataset(dir);
  assert.deepEqual((await clean.verify()).failures, []);
  await clean.close();

  const file = path.join(dir, "train-00001.bin");
  const bytes = readFileSync(file);
  bytes[300] ^= 0x01;
  writeFileSync(file, bytes);
  const ds = openDataset(dir);
  const seen: string[] = [];
  const report = await ds.verify((f) => seen.push(path.basename(f)));
  await ds.close();
  assert.equal(report.checked, 4);
  assert.deepEqual(seen, ["train-00000.bin", "train-00001.bin", "train-00002.bin", "val-00000.bin"]);
  assert.equal(report.failures.length, 1);
  assert.equal(report.failures[0].file, file);
  assert.match(report.failures[0].problem, /sha256 [0-9a-f]{64}, the manifest says/);
  assert.match(report.fix ?? "", /delete that shard's \.bin and \.json files and manifest\.json/);

  truncateSync(file, 100);
  assert.throws(() => openDataset(dir), (err: Error) => err.message.includes(file) && /100 bytes, but .* says 980: it was truncated/.test(err.message));
});

test("an aborted or unfinished writer leaves nothing a reader accepts as complete", async (t) => {
  const dir = tempDir(t);
  const recs = makeRecords(3, 3, "x");
  const aborted = await ShardWriter.open(dir, "train", 0, SHAPE, { preprocessing: PREP });
  await aborted.add(recs[0].label, recs[0].pixels, recs[0].origin);
  await aborted.abort();
  assert.deepEqual(readdirSync(dir), [], "abort removes the temporary file");
  await assert.rejects(aborted.add(0, recs[0].pixels, "late"), /add\(\) after abort\(\)/);

  const unfinished = await ShardWriter.open(dir, "train", 0, SHAPE, { preprocessing: PREP, bufferBytes: 1 });
  for (const r of recs) await unfinished.add(r.label, r.pixels, r.origin);
  const files = readdirSync(dir);
  assert.equal(files.length, 1);
  assert.match(files[0], /^train-00000\.bin\.tmp-/, "records so far are only in a temporary file");
  assert.equal(await completedShard(dir, "train", 0, SHAPE), undefined);
  await assert.rejects(finalizeDataset(dir, { classes: CLASSES, preprocessing: PREP }), /has no finished shards/);
  assert.throws(() => openDataset(dir), (err: Error) => err.message === `${dir} has no manifest.json: it was not prepared, or preparation was interrupted; run \`alexnet prepare\` again with the same options to resume.`);

  // The rerun's writer clears the leftover and produces the shard.
  await writeShard(dir, "train", 0, recs);
  await unfinished.abort();
  assert.deepEqual(readdirSync(dir).sort(), ["train-00000.bin", "train-00000.json", "train-00000.sum.f64"]);
  assert.equal((await completedShard(dir, "train", 0, SHAPE))?.records, 3);
});

test("completedShard: done only when the sidecar exists and the files have their recorded sizes", async (t) => {
  const dir = tempDir(t);
  const recs = makeRecords(4, 4, "y");
  assert.equal(await completedShard(dir, "train", 0, SHAPE), undefined, "never written");
  await writeShard(dir, "train", 0, recs);
  const info = await completedShard(dir, "train", 0, SHAPE, { preprocessing: { format: "synthetic", kernel: "lanczos3", size: 8 }, verify: true });
  assert.deepEqual(info && { ...info, sha256: info.sha256.length }, { split: "train", index: 0, file: "train-00000.bin", sidecar: "train-00000.json", records: 4, bytes: 4 * 196, sha256: 64, hasStats: true, skipped: [] });

  await assert.rejects(completedShard(dir, "train", 0, [16, 16, 3]), /holds 8x8x3 records but this run makes 16x16x3: .* prepare into a new folder, or delete/);
  await assert.rejects(completedShard(dir, "train", 0, SHAPE, { preprocessing: { ...PREP, kernel: "cubic" } }), /was made with preprocessing .*lanczos3.* but this run uses .*cubic/);

  const bin = path.join(dir, "train-00000.bin");
  const bytes = readFileSync(bin);
  bytes[10] ^= 0xff;
  writeFileSync(bin, bytes);
  assert.ok(await completedShard(dir, "train", 0, SHAPE), "sizes alone look right");
  assert.equal(await completedShard(dir, "train", 0, SHAPE, { verify: true }), undefined, "the checksum does not");
  truncateSync(bin, 196);
  assert.equal(await completedShard(dir, "train", 0, SHAPE), undefined);

  await writeShard(dir, "train", 0, recs);
  rmSync(path.join(dir, "train-00000.sum.f64"));
  assert.equal(await completedShard(dir, "train", 0, SHAPE), undefined, "statistics file missing");

  // Opening a writer for a finished shard discards it before anything else.
  await writeShard(dir, "train", 0, recs);
  const again = await ShardWriter.open(dir, "train", 0, SHAPE);
  assert.equal(await completedShard(dir, "train", 0, SHAPE), undefined);
  await again.abort();
});

test("workers writing disjoint shard indices into one folder merge into one manifest", async (t) => {
  const dir = tempDir(t);
  const train = makeRecords(14, 5, "train");
  const val = makeRecords(3, 6, "val");
  const shards = [train.slice(0, 4), train.slice(4, 8), train.slice(8, 12), train.slice(12)];
  // Worker 0 of 2 takes the even shards and val, worker 1 the odd ones; both run at once.
  const worker = async (w: number): Promise<void> => {
    for (let s = w; s < shards.length; s += 2) await writeShard(dir, "train", s, shards[s]);
    if (w === 0) await writeShard(dir, "val", 0, val);
  };
  await Promise.all([worker(0), worker(1)]);

  await assert.rejects(finalizeDataset(dir, { classes: CLASSES, preprocessing: PREP, expectedShards: { train: 5, val: 1 } }), /missing finished shards train-00004\.json: a worker has not finished/);
  assert.equal(existsSync(path.join(dir, MANIFEST_FILE)), false);
  await assert.rejects(finalizeDataset(dir, { classes: CLASSES, preprocessing: PREP, expectedShards: { train: 3 } }), /beyond the 3 expected for train: train-00003\.json/);
  await assert.rejects(finalizeDataset(dir, { classes: CLASSES, preprocessing: { ...PREP, size: 9 } }), /train-00000\.json was made with preprocessing .* shards from different preparations/);
  await assert.rejects(finalizeDataset(dir, { classes: ["only"], preprocessing: PREP }), /has label \d, but there are 1 classes/);

  const manifest = await finalizeDataset(dir, { classes: CLASSES, classNames: ["Cat", "Dog", "Emu"], preprocessing: PREP, expectedShards: { train: 4, val: 1 } });
  assert.equal(manifest.splits.train?.count, 14);
  assert.deepEqual(manifest.classNames, ["Cat", "Dog", "Emu"]);
  const ds = openDataset(dir);
  t.after(() => ds.close());
  let i = 0;
  for await (const r of ds.split("train").records({ chunkRecords: 3 })) assertSameRecord(r, train[i], i++);
  assert.equal(i, 14);
  const expected = emptyStats(SHAPE);
  for (const r of train) accumulate(expected, r.pixels);
  assert.deepEqual(ds.statistics(), finalizeStats(expected), "merged statistics equal those of all training images");

  // A gap is caught without expectedShards too.
  rmSync(path.join(dir, "train-00001.json"));
  await assert.rejects(finalizeDataset(dir, { classes: CLASSES, preprocessing: PREP }), /missing finished shards train-00001\.json/);
});

test("workers that wrote to separate folders are gathered into one dataset", async (t) => {
  const root = tempDir(t);
  const [a, b, out] = ["a", "b", "out"].map((d) => path.join(root, d));
  const train = makeRecords(9, 7, "train");
  await writeShard(a, "train", 0, train.slice(0, 3));
  await writeShard(b, "train", 1, train.slice(3, 6));
  await writeShard(a, "train", 2, train.slice(6));
  await finalizeDataset(out, { classes: CLASSES, preprocessing: PREP, from: [a, b], expectedShards: { train: 3 } });
  assert.deepEqual(readdirSync(a), []);
  assert.deepEqual(readdirSync(b), []);
  const ds = openDataset(out);
  t.after(() => ds.close());
  const batch = await ds.split("train").readBatch([8, 0, 4]);
  assert.deepEqual(Array.from(batch.labels), [train[8].label, train[0].label, train[4].label]);
  assert.equal((await ds.verify()).failures.length, 0);

  // The same shard index from two workers is a configuration mistake, named as such.
  await writeShard(a, "train", 1, train.slice(0, 2));
  await assert.rejects(finalizeDataset(out, { classes: CLASSES, preprocessing: PREP, from: [a] }), /different copies of the same shard: two workers wrote one shard index/);
});

test("bad records and misuse are refused with the file and the fix", async (t) => {
  const dir = tempDir(t);
  const writer = await ShardWriter.open(dir, "train", 0, SHAPE);
  await assert.rejects(writer.add(0, new Uint8Array(10), "photos/a.jpg"), /photos\/a\.jpg: record has 10 pixel values, but .*train-00000\.bin holds 8x8x3 = 192/);
  await assert.rejects(writer.add(-1, new Uint8Array(192), "photos/b.jpg"), /photos\/b\.jpg: label must be an integer/);
  await writer.finish();
  await assert.rejects(writer.finish(), /finish\(\) after finish\(\)/);
  await assert.rejects(ShardWriter.open(dir, "test" as SplitName, 0, SHAPE), /split must be one of train, val/);
  await assert.rejects(ShardWriter.open(dir, "train", 1, [8, 8]), /record shape must be \[height, width, channels\]/);

  // An empty shard is allowed (every image of it failed to load); the dataset then has no statistics.
  await finalizeDataset(dir, { classes: CLASSES, preprocessing: {} });
  const ds = openDataset(dir);
  assert.equal(ds.split("train").length, 0);
  assert.throws(() => ds.split("val"), /has no val split \(it has train\)/);
  assert.throws(() => ds.meanImage(), /has no training statistics/);
  await ds.close();
  await assert.rejects(ShardWriter.open(dir, "train", 1, SHAPE), /already holds a finished dataset \(manifest\.json exists\)/);

  const missing = path.join(dir, "nope");
  assert.throws(() => openDataset(missing), new RegExp(`${missing} does not exist`));
  writeFileSync(path.join(dir, MANIFEST_FILE), "{ not json");
  assert.throws(() => openDataset(dir), /manifest\.json is not valid JSON .* delete it and run `alexnet prepare` again/);
  writeFileSync(path.join(dir, MANIFEST_FILE), JSON.stringify({ format: "something else" }));
  assert.throws(() => openDataset(dir), /is not a valid dataset manifest: format is "something else"/);
});

test("skipped records are kept in the sidecar, reported on resume and counted in the manifest", async (t) => {
  const dir = tempDir(t);
  const recs = makeRecords(2, 2, "z");
  const writer = await ShardWriter.open(dir, "train", 0, SHAPE, { preprocessing: PREP, stats: true });
  for (const r of recs) await writer.add(r.label, r.pixels, r.origin);
  writer.skip("broken.jpg", "corrupt or truncated");
  const info = await writer.finish();
  assert.deepEqual(info.skipped, [{ origin: "broken.jpg", reason: "corrupt or truncated" }]);
  assert.deepEqual((await completedShard(dir, "train", 0, SHAPE))?.skipped, [{ origin: "broken.jpg", reason: "corrupt or truncated" }]);
  const manifest = await finalizeDataset(dir, { classes: CLASSES, preprocessing: PREP });
  assert.equal(manifest.splits.train?.skipped, 1);
  assert.equal(manifest.splits.train?.count, 2);
});
