// Throughput of `alexnet prepare` on ImageNet-like JPEGs (about 500x375, mixed
// orientations), against the rate of decoding the same files and nothing else,
// measured in the same run. Usage: npm run bench -- bench/prepare.ts [images] [jobs] [--rounds N] [--baseline DIR]
// With --baseline, DIR is another checkout (say, of main, with its node_modules) whose
// prepareDataset runs in the same rounds, between the decode-only pass and this one's.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { type PrepareReport, orderedPool, prepareDataset } from "../lib/data/prepare";
import { decodeOnly, preprocessImage } from "../lib/data/preprocess";
import { openSource } from "../lib/data/sources";
import { accumulate, emptyStats } from "../lib/data/stats";
import { createRgbStats } from "../lib/data/stats-wasm";
import { generateSyntheticImage } from "../lib/data/synthetic";
import { median, option, writeResult } from "./common";

type Prepare = typeof prepareDataset;
type OpenSource = typeof openSource;

/** prepareDataset and openSource from another checkout. */
function baselinePrepare(dir: string): { prepare: Prepare; open: OpenSource } {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const prepare = (require(path.resolve(dir, "lib", "data", "prepare")) as { prepareDataset: Prepare }).prepareDataset;
  const open = (require(path.resolve(dir, "lib", "data", "sources")) as { openSource: OpenSource }).openSource;
  /* eslint-enable @typescript-eslint/no-require-imports */
  return { prepare, open };
}

interface StageTime {
  us: number;
  cpuUs: number;
}

/** Microseconds per image of fn, one image at a time, wall clock and CPU (all threads of the process). */
async function perImage(files: string[], fn: (file: string) => Promise<unknown> | unknown): Promise<StageTime> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const f of files) await fn(f);
  const cpu = process.cpuUsage(c0);
  return { us: ((performance.now() - t0) * 1000) / files.length, cpuUs: (cpu.user + cpu.system) / files.length };
}

/**
 * Where one image's time goes, stage by stage, with nothing else in flight: the file
 * read, the header (sharp's metadata, which prepare reads first for the geometry),
 * the decode alone, decode + resize + crop as prepare does them (header included), and
 * the main thread's share: the record's sha256, the statistics, the copy into the
 * shard buffer. Writing and syncing the shards, the manifest and the read-back
 * verification are in each prepare's phases instead.
 */
async function stageProfile(files: string[]): Promise<Record<string, StageTime>> {
  const bufs = new Map(files.map((f) => [f, readFileSync(f)]));
  const data = (f: string) => bufs.get(f) as Buffer;
  const record = (await preprocessImage({ kind: "encoded", data: data(files[0]) })).pixels;
  const stats = emptyStats([256, 256, 3]);
  const fastStats = createRgbStats([256, 256, 3]);
  const shardBuffer = Buffer.allocUnsafe(record.length + 4);
  return {
    read: await perImage(files, (f) => readFile(f)),
    header: await perImage(files, (f) => sharp(data(f)).metadata()),
    decode: await perImage(files, (f) => decodeOnly({ kind: "encoded", data: data(f) })),
    decodeResizeCrop: await perImage(files, (f) => preprocessImage({ kind: "encoded", data: data(f) })),
    checksum: await perImage(files, () => createHash("sha256").update(record).digest()),
    // What ShardWriter runs (the WebAssembly loop, for RGB), and stats.ts's JavaScript loop.
    statistics: await perImage(files, () => (fastStats ? fastStats.add(stats, record) : accumulate(stats, record))),
    statisticsJs: await perImage(files, () => accumulate(stats, record)),
    copy: await perImage(files, () => shardBuffer.set(record, 4)),
  };
}

async function makeFolder(root: string, n: number): Promise<string[]> {
  const files: string[] = [];
  await orderedPool(
    Array.from({ length: n }, (_, i) => i),
    4,
    async (i) => {
      const img = await generateSyntheticImage({ seed: 7 }, "train", i);
      const [w, h] = i % 2 === 0 ? [500, 375] : [375, 500];
      return { i, label: img.label, jpeg: await sharp(img.jpeg).resize(w, h, { fit: "fill" }).jpeg({ quality: 90 }).toBuffer() };
    },
    ({ i, label, jpeg }) => {
      const dir = path.join(root, `class${label}`);
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${String(i).padStart(5, "0")}.jpg`);
      writeFileSync(file, jpeg);
      files.push(file);
    },
  );
  return files;
}

/** The baseline's figures from the same rounds, printed and for the JSON. */
function baselineSummary(
  dir: string,
  rates: { decode: number[]; prepare: number[]; baseline: number[] },
  decode: number,
  prepare: number,
): Record<string, unknown> {
  const best = Math.max(...rates.baseline);
  const ratios = rates.baseline.map((p, i) => p / rates.decode[i]);
  // Round by round, this one over the baseline that ran just before it.
  const speedups = rates.prepare.map((p, i) => p / rates.baseline[i]);
  console.log(
    `baseline (${dir}): ${best.toFixed(0)} images/s (rounds: ${rates.baseline.map((r) => r.toFixed(0)).join(", ")}), ${((100 * best) / decode).toFixed(0)}% of decode-only; by round: ${ratios.map((r) => `${(100 * r).toFixed(0)}%`).join(", ")}, median ${(100 * median(ratios)).toFixed(0)}%; this one ${(prepare / best).toFixed(2)}x best against best, ${median(speedups).toFixed(2)}x the median of the rounds`,
  );
  return {
    dir,
    prepareImagesPerSecond: best,
    ratio: best / decode,
    roundRatios: ratios,
    medianRoundRatio: median(ratios),
    roundSpeedups: speedups,
    medianRoundSpeedup: median(speedups),
    rounds: rates.baseline,
    note: "ran in the same rounds: decode-only, baseline, this one",
  };
}

async function main() {
  const positional = process.argv
    .slice(2)
    .filter((a, i, all) => !a.startsWith("--") && all[i - 1] !== "--baseline" && all[i - 1] !== "--rounds");
  const n = Number(positional[0] ?? 600);
  const jobs = Number(positional[1] ?? 2 * os.availableParallelism());
  const baselineDir = option("baseline", "");
  const base = baselineDir ? baselinePrepare(baselineDir) : undefined;
  const rounds = Number(option("rounds", "2"));
  const tmp = mkdtempSync(path.join(os.tmpdir(), "alexnet-bench-prepare-"));
  try {
    const src = path.join(tmp, "jpegs");
    const files = await makeFolder(src, n);
    const bytes = files.reduce((s, f) => s + readFileSync(f).length, 0);
    console.log(
      `${n} JPEGs (500x375 and 375x500, ${(bytes / n / 1024).toFixed(0)} KiB each on average), ${jobs} in flight, ${os.availableParallelism()} threads, sharp concurrency ${sharp.concurrency()}`,
    );

    // Warm both paths (sharp's thread pool, JIT) on a few files.
    await Promise.all(files.slice(0, 8).map((f) => decodeOnly({ kind: "encoded", data: readFileSync(f) })));

    const profile = await stageProfile(files.slice(0, 100));
    console.log(
      `per image, one at a time (us wall / us CPU): ${Object.entries(profile)
        .map(([k, v]) => `${k} ${v.us.toFixed(0)}/${v.cpuUs.toFixed(0)}`)
        .join(", ")}`,
    );

    const rates = { decode: [] as number[], prepare: [] as number[], baseline: [] as number[] };
    const phases: PrepareReport["phases"][] = [];
    const loadAverage: number[][] = [];
    const run = async (prepare: Prepare, open: OpenSource, out: string): Promise<number> => {
      const t0 = performance.now();
      const report = await prepare({ source: await open("imagefolder", src), out, jobs, progress: "silent" });
      const rate = n / ((performance.now() - t0) / 1000);
      if ((report.written.train ?? 0) !== n) throw new Error(`prepared ${report.written.train} of ${n}`);
      if (prepare === prepareDataset) phases.push(report.phases);
      rmSync(out, { recursive: true, force: true });
      return rate;
    };
    for (let round = 0; round < rounds; round++) {
      loadAverage.push(os.loadavg());
      const t0 = performance.now();
      // Read and decode, as prepare does: file reads are part of both.
      await orderedPool(
        files,
        jobs,
        async (f) => decodeOnly({ kind: "encoded", data: await readFile(f) }),
        () => undefined,
      );
      rates.decode.push(n / ((performance.now() - t0) / 1000));
      if (base) rates.baseline.push(await run(base.prepare, base.open, path.join(tmp, `baseline-${round}`)));
      rates.prepare.push(await run(prepareDataset, openSource, path.join(tmp, `prepared-${round}`)));
    }
    loadAverage.push(os.loadavg());
    const list = (xs: number[]) => xs.map((r) => r.toFixed(0)).join(", ");
    const decode = Math.max(...rates.decode);
    const prepare = Math.max(...rates.prepare);
    // Each round's prepare over the same round's decode: less at the mercy of a load that changes between rounds.
    const roundRatios = rates.prepare.map((p, i) => p / rates.decode[i]);
    console.log(`load average by round: ${loadAverage.map((l) => l.map((x) => x.toFixed(2)).join(" ")).join(" | ")}`);
    console.log(`decode only: ${decode.toFixed(0)} images/s (rounds: ${list(rates.decode)})`);
    console.log(`prepare:     ${prepare.toFixed(0)} images/s (rounds: ${list(rates.prepare)}), including shards, checksums and statistics`);
    console.log(
      `ratio: ${((100 * prepare) / decode).toFixed(0)}% of the decode-only rate, best against best (target: at least 70%); by round: ${roundRatios.map((r) => `${(100 * r).toFixed(0)}%`).join(", ")}, median ${(100 * median(roundRatios)).toFixed(0)}%`,
    );
    console.log(
      `phases (s): ${phases.map((p) => `images ${p.images.toFixed(2)}, finalize ${p.finalize.toFixed(2)}, verify ${p.verify.toFixed(2)}`).join(" | ")}`,
    );
    const baseline = base ? baselineSummary(baselineDir, rates, decode, prepare) : undefined;
    const file = writeResult("prepare", {
      images: n,
      jobs,
      sharpConcurrency: sharp.concurrency(),
      loadAverage,
      decodeOnlyImagesPerSecond: decode,
      prepareImagesPerSecond: prepare,
      ratio: prepare / decode,
      roundRatios,
      medianRoundRatio: median(roundRatios),
      rounds: { decode: rates.decode, prepare: rates.prepare },
      phasesSeconds: phases,
      perImageMicroseconds: profile,
      ...(baseline ? { baseline } : {}),
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
