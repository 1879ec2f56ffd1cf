// Throughput of the input loader: augmented 224x224 float32 images per second
// (random crop, reflection, PCA lighting, mean image) from a prepared 256x256
// dataset, with 0, 1 and 2 worker threads and batches of 128, against what bounds
// it on this machine: the fused augmentation loop alone on one thread, and a plain
// Float32Array copy of the same number of bytes. Target: 10,000 images/s on 2 cores.
// Usage: npm run bench -- bench/loader.ts [records] [rounds] [--baseline DIR]
// With --baseline, DIR is another checkout (say, of main, with its node_modules) whose
// loader runs in the same rounds, alternating with this one's, so that a before/after
// comparison sees the same machine load; the JSON records both.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { cropRange, lightingBasis, lightingOffset, presentationDraw, writeAugmented } from "../lib/data/augment";
import { createRgbAugmenter } from "../lib/data/augment-wasm";
import { RecordFiles } from "../lib/data/batches";
import { createLoader } from "../lib/data/loader";
import type { LoaderOptions } from "../lib/data/loader";
import { Random } from "../lib/data/random";
import { finalizeDataset, ShardWriter } from "../lib/data/shard-writer";
import { openDataset } from "../lib/data/shards";
import { median, option, writeResult } from "./common";

const SIDE = 256;
const CROP = 224;
const BATCH = 128;
const FLOATS = CROP * CROP * 3;

async function makeDataset(dir: string, records: number): Promise<void> {
  const r = new Random(1);
  const perShard = Math.ceil(records / 2);
  for (let s = 0, n = 0; n < records; s++) {
    const writer = await ShardWriter.open(dir, "train", s, [SIDE, SIDE, 3], { stats: true, preprocessing: { bench: "loader" } });
    for (let i = 0; i < perShard && n < records; i++, n++) {
      // Smooth colours plus noise: the content does not change the speed, but keeps the statistics sensible.
      const px = new Uint8Array(SIDE * SIDE * 3);
      const base = [r.int(256), r.int(256), r.int(256)];
      for (let p = 0; p < px.length; p++) px[p] = (base[p % 3] + ((p / 3) % SIDE) / 4 + r.int(32)) & 255;
      await writer.add(n % 10, px, `bench-${n}`);
    }
    await writer.finish();
  }
  await finalizeDataset(dir, { classes: Array.from({ length: 10 }, (_, i) => `c${i}`), preprocessing: { bench: "loader" } });
}

interface Rate {
  /** Wall clock, after the first batch (which includes starting the workers). */
  imagesPerSecond: number;
  /** Per second of CPU time used by the whole process (all threads): what a core of one's own would give. */
  imagesPerCpuSecond: number;
  firstBatchMs: number;
  images: number;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

type CreateLoader = typeof createLoader;

async function loaderRate(dir: string, options: LoaderOptions, release: boolean, create: CreateLoader = createLoader): Promise<Rate> {
  const loader = create(dir, options);
  const t0 = performance.now();
  let tFirst = 0;
  let cpuFirst = 0;
  let images = 0;
  let checksum = 0;
  for await (const b of loader) {
    checksum += b.images[b.images.length >> 1];
    if (tFirst === 0) {
      tFirst = performance.now();
      cpuFirst = cpuSeconds();
    } else images += b.shape[0];
    if (release) b.release();
  }
  const t1 = performance.now();
  const cpu = cpuSeconds() - cpuFirst;
  await loader.close();
  if (!Number.isFinite(checksum)) throw new Error("non-finite output");
  return { imagesPerSecond: images / ((t1 - tFirst) / 1000), imagesPerCpuSecond: images / cpu, firstBatchMs: tFirst - t0, images };
}

/** writeAugmented's JavaScript loop alone, one thread, records in memory (no reads, no threads); the WebAssembly loop is in the profile. */
async function hotLoopRate(dir: string, seconds = 1.5): Promise<{ wall: number; cpu: number }> {
  const ds = openDataset(dir);
  const stats = ds.statistics();
  const basis = lightingBasis(stats);
  const records: Uint8Array[] = [];
  for (let i = 0; i < 64; i++) records.push((await ds.split("train").readRecord(i, { origins: false })).pixels.slice());
  await ds.close();
  const out = new Float32Array(BATCH * FLOATS);
  const range = cropRange(SIDE, SIDE, CROP);
  let n = 0;
  const c0 = cpuSeconds();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    for (let i = 0; i < BATCH; i++, n++) {
      const d = presentationDraw(1, 0, n, range);
      writeAugmented(
        records[n % 64],
        0,
        [SIDE, SIDE, 3],
        { x: d.x, y: d.y, height: CROP, width: CROP, flip: d.flip },
        lightingOffset(basis, d.alphas),
        stats.meanImage,
        out,
        i * FLOATS,
      );
    }
  }
  return { wall: n / ((performance.now() - t0) / 1000), cpu: n / (cpuSeconds() - c0) };
}

/** Microseconds per call of fn, per wall clock and per CPU second of the process, over about `seconds`. */
function timeEach(fn: (i: number) => void, seconds = 0.5): { us: number; cpuUs: number } {
  for (let i = 0; i < 32; i++) fn(i); // warm: JIT, caches
  let n = 0;
  const c0 = cpuSeconds();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) for (let i = 0; i < 32; i++, n++) fn(n);
  return { us: ((performance.now() - t0) * 1000) / n, cpuUs: ((cpuSeconds() - c0) * 1e6) / n };
}

/**
 * Where an image's time goes on one thread, stage by stage: the record read (a
 * synchronous read from the page cache into the staging buffer), the random draws,
 * the fused crop/flip/lighting/mean loop in JavaScript and in WebAssembly (its
 * figure includes copying the crop out of the module's memory, also given alone).
 */
function stageProfile(dir: string): Record<string, { us: number; cpuUs: number }> {
  const ds = openDataset(dir);
  const stats = ds.statistics();
  const basis = lightingBasis(stats);
  const split = ds.manifest.splits.train!;
  const files = new RecordFiles(dir, split.shards, ds.recordBytes, ds.classes.length);
  const records = files.length;
  const stage = new Uint8Array(ds.recordBytes);
  const out = new Float32Array(FLOATS);
  const range = cropRange(SIDE, SIDE, CROP);
  const windowOf = (i: number) => {
    const d = presentationDraw(1, 0, i, range);
    return { window: { x: d.x, y: d.y, height: CROP, width: CROP, flip: d.flip }, shift: lightingOffset(basis, d.alphas) };
  };
  const fast = createRgbAugmenter([SIDE, SIDE, 3], 4, stats.meanImage);
  const profile: Record<string, { us: number; cpuUs: number }> = {
    read: timeEach((i) => files.read((i * 7919) % records, stage)),
    draw: timeEach((i) => windowOf(i)),
    augmentJs: timeEach((i) => {
      const { window, shift } = windowOf(i);
      writeAugmented(stage, 4, [SIDE, SIDE, 3], window, shift, stats.meanImage, out, 0);
    }),
  };
  if (fast) {
    fast.record.set(stage);
    profile.augmentWasm = timeEach((i) => {
      const { window, shift } = windowOf(i);
      fast.write(window, shift, out, 0);
    });
    const from = new Float32Array(FLOATS);
    profile.copyOut = timeEach(() => out.set(from));
  }
  files.close();
  void ds.close();
  return profile;
}

/** Plain Float32Array copies of one batch's worth of output, expressed as images per second. */
function copyRate(rounds = 20): number {
  const a = new Float32Array(BATCH * FLOATS).fill(1);
  const b = new Float32Array(BATCH * FLOATS);
  const rates: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    b.set(a);
    rates.push(BATCH / ((performance.now() - t0) / 1000));
  }
  return median(rates);
}

/** One loader configuration over `rounds` rounds, alternating with the baseline's loader when there is one. */
async function measureConfig(
  dir: string,
  c: { workers: number; release: boolean },
  rounds: number,
  epochs: number,
  base: { dir: string; create: CreateLoader } | undefined,
): Promise<Record<string, unknown>> {
  const loadAverage = os.loadavg();
  const runs = [] as Rate[];
  const baseRuns = [] as Rate[];
  for (let i = 0; i < rounds; i++) {
    const options = { batchSize: BATCH, crop: CROP, seed: i, workers: c.workers, epochs };
    if (base) baseRuns.push(await loaderRate(dir, options, c.release, base.create));
    runs.push(await loaderRate(dir, options, c.release));
  }
  const rate = median(runs.map((r) => r.imagesPerSecond));
  const perCpu = median(runs.map((r) => r.imagesPerCpuSecond));
  const first = median(runs.map((r) => r.firstBatchMs));
  // With the cores to itself, a loader with w workers would use about max(w, 1) of them.
  const projected = perCpu * Math.min(Math.max(c.workers, 1), os.availableParallelism());
  console.log(
    `loader, workers ${c.workers}${c.release ? "" : ", no release()"}:`.padEnd(42) +
      `${rate.toFixed(0)} images/s (rounds: ${runs.map((r) => r.imagesPerSecond.toFixed(0)).join(", ")}); ${perCpu.toFixed(0)} per CPU-second, so ~${projected.toFixed(0)}/s on idle cores; first batch after ${first.toFixed(0)} ms`,
  );
  const baseline = baseRuns.length
    ? {
        imagesPerSecond: median(baseRuns.map((r) => r.imagesPerSecond)),
        rounds: baseRuns.map((r) => r.imagesPerSecond),
        imagesPerCpuSecond: median(baseRuns.map((r) => r.imagesPerCpuSecond)),
      }
    : undefined;
  if (baseline) {
    console.log(
      `  baseline (${base?.dir}), same rounds:`.padEnd(42) +
        `${baseline.imagesPerSecond.toFixed(0)} images/s (rounds: ${baseline.rounds.map((r) => r.toFixed(0)).join(", ")}); ${baseline.imagesPerCpuSecond.toFixed(0)} per CPU-second; this one ${(rate / baseline.imagesPerSecond).toFixed(2)}x`,
    );
  }
  return {
    ...c,
    loadAverage,
    imagesPerSecond: rate,
    rounds: runs.map((r) => r.imagesPerSecond),
    imagesPerCpuSecond: perCpu,
    projectedIdleImagesPerSecond: projected,
    firstBatchMs: first,
    imagesPerRound: runs[0].images,
    ...(baseline
      ? {
          baseline,
          speedup: rate / baseline.imagesPerSecond,
          speedupPerCpuSecond: perCpu / baseline.imagesPerCpuSecond,
          // Round by round, this loader over the baseline's that ran just before it.
          medianRoundSpeedup: median(runs.map((r, i) => r.imagesPerSecond / baseRuns[i].imagesPerSecond)),
        }
      : {}),
  };
}

/** createLoader from another checkout: its lib/data/loader.ts, with its own workers. */
function baselineLoader(dir: string): CreateLoader {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(path.resolve(dir, "lib", "data", "loader")) as { createLoader: CreateLoader }).createLoader;
}

async function main(): Promise<void> {
  const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && all[i - 1] !== "--baseline");
  const records = Number(positional[0] ?? 512);
  const rounds = Number(positional[1] ?? 3);
  const baselineDir = option("baseline", "");
  const base = baselineDir ? { dir: baselineDir, create: baselineLoader(baselineDir) } : undefined;
  const epochs = Math.max(2, Math.ceil(5120 / records)); // about 40 batches per round, so a fresh worker's JIT warm-up weighs little
  const tmp = mkdtempSync(path.join(os.tmpdir(), "alexnet-bench-loader-"));
  const loadBefore = os.loadavg();
  try {
    await makeDataset(tmp, records);
    console.log(
      `${records} records of ${SIDE}x${SIDE}x3 (${((records * (SIDE * SIDE * 3 + 4)) / 2 ** 20).toFixed(0)} MiB, in the page cache), crops ${CROP}, batch ${BATCH}, ${epochs} epochs per round, ${rounds} rounds; ${os.availableParallelism()} threads, load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")}`,
    );
    const profile = stageProfile(tmp);
    console.log(
      `per image, one thread (us wall / us CPU): ${Object.entries(profile)
        .map(([k, v]) => `${k} ${v.us.toFixed(0)}/${v.cpuUs.toFixed(0)}`)
        .join(", ")}`,
    );
    const copy = copyRate();
    const hotRuns = [] as { wall: number; cpu: number }[];
    for (let i = 0; i < rounds; i++) hotRuns.push(await hotLoopRate(tmp));
    const hot = hotRuns.map((r) => r.wall);
    const hotCpu = median(hotRuns.map((r) => r.cpu));
    console.log(
      `memory: Float32Array copy of a batch      ${copy.toFixed(0)} images/s equivalent (${((copy * FLOATS * 4) / 1e9).toFixed(1)} GB/s)`,
    );
    console.log(
      `fused augmentation loop (JavaScript), 1 thread: ${median(hot).toFixed(0)} images/s (rounds: ${hot.map((r) => r.toFixed(0)).join(", ")}); ${hotCpu.toFixed(0)} per CPU-second`,
    );
    const configs: { workers: number; release: boolean }[] = [
      { workers: 0, release: true },
      { workers: 1, release: true },
      { workers: 2, release: true },
      { workers: 2, release: false },
    ];
    const results: Record<string, unknown>[] = [];
    for (const c of configs) results.push(await measureConfig(tmp, c, rounds, epochs, base));
    const loadAfter = os.loadavg();
    const best = Math.max(...results.map((r) => r.imagesPerSecond as number));
    const bestProjected = Math.max(...results.map((r) => r.projectedIdleImagesPerSecond as number));
    console.log(
      `best: ${best.toFixed(0)} images/s measured, ~${bestProjected.toFixed(0)}/s projected on idle cores (target 10,000); load average after: ${loadAfter.map((l) => l.toFixed(2)).join(" ")}`,
    );
    const file = writeResult("loader", {
      records,
      crop: CROP,
      batchSize: BATCH,
      augmentation: "random crop, reflection, PCA lighting (alpha std 0.1, stddev scale), per-pixel mean image",
      epochsPerRound: epochs,
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadAfter,
      perImageMicroseconds: profile,
      ...(baselineDir
        ? { baseline: { dir: baselineDir, note: "the baseline loader ran in the same rounds, alternating with this one (baseline first)" } }
        : {}),
      memoryCopyImagesPerSecond: copy,
      hotLoopImagesPerSecond: median(hot),
      hotLoopImagesPerCpuSecond: hotCpu,
      hotLoopRounds: hot,
      loader: results,
      bestImagesPerSecond: best,
      bestProjectedIdleImagesPerSecond: bestProjected,
      target: 10000,
    });
    console.log(`wrote ${file}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
