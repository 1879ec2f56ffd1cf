// Throughput of `alexnet prepare` on ImageNet-like JPEGs (about 500x375, mixed
// orientations), against the rate of decoding the same files and nothing else,
// measured in the same run. Usage: npm run bench -- bench/prepare.ts [images] [jobs]
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { orderedPool, prepareDataset } from "../lib/data/prepare";
import { decodeOnly } from "../lib/data/preprocess";
import { openSource } from "../lib/data/sources";
import { generateSyntheticImage } from "../lib/data/synthetic";
import { writeResult } from "./common";

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

async function main() {
  const n = Number(process.argv[2] ?? 600);
  const jobs = Number(process.argv[3] ?? 2 * os.availableParallelism());
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

    const rates = { decode: [] as number[], prepare: [] as number[] };
    for (let round = 0; round < 2; round++) {
      let t0 = performance.now();
      // Read and decode, as prepare does: file reads are part of both.
      await orderedPool(
        files,
        jobs,
        async (f) => decodeOnly({ kind: "encoded", data: await readFile(f) }),
        () => undefined,
      );
      rates.decode.push(n / ((performance.now() - t0) / 1000));

      const out = path.join(tmp, `prepared-${round}`);
      t0 = performance.now();
      const report = await prepareDataset({ source: await openSource("imagefolder", src), out, jobs, progress: "silent" });
      rates.prepare.push(n / ((performance.now() - t0) / 1000));
      if ((report.written.train ?? 0) !== n) throw new Error(`prepared ${report.written.train} of ${n}`);
      rmSync(out, { recursive: true, force: true });
    }
    const decode = Math.max(...rates.decode);
    const prepare = Math.max(...rates.prepare);
    console.log(`decode only: ${decode.toFixed(0)} images/s (rounds: ${rates.decode.map((r) => r.toFixed(0)).join(", ")})`);
    console.log(
      `prepare:     ${prepare.toFixed(0)} images/s (rounds: ${rates.prepare.map((r) => r.toFixed(0)).join(", ")}), including shards, checksums and statistics`,
    );
    console.log(`ratio: ${((100 * prepare) / decode).toFixed(0)}% of the decode-only rate (target: at least 70%)`);
    console.log(
      `wrote ${writeResult("prepare", { images: n, jobs, sharpConcurrency: sharp.concurrency(), decodeOnlyImagesPerSecond: decode, prepareImagesPerSecond: prepare, ratio: prepare / decode, rounds: rates })}`,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
