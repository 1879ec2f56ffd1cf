// `alexnet prepare`: a source in, a prepared dataset out (data/FORMAT.md).
// Records are cut into fixed ranges of the source, one shard per range, so a
// rerun knows which shards are done (resume) and N workers can split the
// shards between them (--shard I/N); the last step merges what they wrote.
import os from "node:os";
import path from "node:path";
import { sha256File } from "../files";
import { checkOutputFolder } from "../folders";
import { type BadImageReason, type PreprocessOptions, fixFor, preprocessRecord } from "./preprocess";
import { type Manifest, type ShardInfo, type SkippedRecord, isDatasetEntry } from "./shard-format";
import { ShardWriter, completedShard, finalizeDataset } from "./shard-writer";
import { verifyDataset } from "./shards";
import type { DataSource, SplitName, SourceRecord } from "./types";
import { Progress, type ProgressOptions } from "../viz/progress";

export interface WorkerSlice {
  /** 1-based, as written on the command line: --shard 1/4 is the first of four. */
  index: number;
  count: number;
}

export function parseWorkerSlice(text: string): WorkerSlice {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) throw new Error(`--shard ${text}: expected I/N with 1 <= I <= N, e.g. --shard 1/4 for the first of four workers`);
  return { index, count };
}

export interface PrepareOptions extends PreprocessOptions {
  source: DataSource;
  out: string;
  /** Where the source came from, recorded in the manifest (identical across workers). */
  sourceDescription?: Record<string, unknown>;
  /** Source records per shard; the last shard of a split may hold fewer. */
  recordsPerShard?: number;
  /** Images in flight at once. */
  jobs?: number;
  /** This process's share of the shards; the default is all of them. */
  worker?: WorkerSlice;
  progress?: ProgressOptions["mode"];
  /** Write into a folder that holds other files too (they are kept). */
  force?: boolean;
}

export interface PrepareReport {
  out: string;
  /** Records in the finished shards of this run's share, by split (resumed ones included). */
  written: Partial<Record<SplitName, number>>;
  skipped: (SkippedRecord & { split?: SplitName })[];
  /** Skips by reason, for the summary. */
  skippedByReason: Partial<Record<BadImageReason | string, number>>;
  shards: { done: number; resumed: number; total: number };
  seconds: number;
  /** Images preprocessed by this run (resumed shards excluded) per second. */
  imagesPerSecond: number;
  /**
   * Where the seconds went: images (read, decode, resize, write the shards, sync
   * them), finalize (merge the statistics, write manifest.json) and verify (read
   * every shard back against its sha256); the rest is the resume check and listing.
   */
  phases: { images: number; finalize: number; verify: number };
  /** Set once the dataset is complete (manifest.json written). */
  manifest?: Manifest;
  /** Why the manifest was not written yet (other workers' shards missing). */
  pending?: string;
  /** Shards checked against the manifest's sha256 once the dataset was complete. */
  verified?: number;
}

interface ShardJob {
  split: SplitName;
  index: number;
  records: SourceRecord[];
}

/** Every shard of every split, in order: shard k of a split holds source records [k*R, (k+1)*R). */
export function planShards(source: DataSource, recordsPerShard: number): ShardJob[] {
  const jobs: ShardJob[] = [];
  for (const split of ["train", "val"] as SplitName[]) {
    const records = source.splits[split] ?? [];
    for (let k = 0; k * recordsPerShard < records.length; k++) jobs.push({ split, index: k, records: records.slice(k * recordsPerShard, (k + 1) * recordsPerShard) });
  }
  return jobs;
}

/** This worker's shards: every count-th shard of the plan, starting at index-1. */
export function workerShards<T>(plan: T[], worker?: WorkerSlice): T[] {
  return worker ? plan.filter((_, i) => i % worker.count === worker.index - 1) : plan;
}

/** The options every shard records; a resumed run or another worker must use the same ones. */
export function preprocessingRecord(opts: PrepareOptions): Record<string, unknown> {
  return {
    size: opts.size ?? 256,
    kernel: opts.kernel ?? "linear",
    recordsPerShard: opts.recordsPerShard ?? defaultRecordsPerShard(opts.size ?? 256),
    source: opts.sourceDescription ?? { format: opts.source.format },
  };
}

/** About 64 MiB of pixels per shard: big enough for fast sequential reads, small enough to redo. */
export function defaultRecordsPerShard(size: number): number {
  return Math.max(16, Math.floor((64 * 2 ** 20) / (size * size * 3)));
}

/** Runs `fn` over items with at most `limit` in flight and hands results to `sink` in input order. */
export async function orderedPool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>, sink: (result: R, item: T) => Promise<void> | void): Promise<void> {
  const pending: Promise<R>[] = [];
  let next = 0;
  const launch = () => {
    if (next < items.length) pending.push(fn(items[next++]));
  };
  for (let i = 0; i < limit; i++) launch();
  for (let i = 0; i < items.length; i++) {
    const result = await pending[i];
    launch();
    await sink(result, items[i]);
  }
}

interface WrittenShards {
  finished: { job: ShardJob; info: ShardInfo }[];
  /** sha256 of each finished shard's file, read back as soon as it was renamed into place. */
  readBack: Map<string, Promise<string>>;
  processed: number;
}

/**
 * Preprocesses the records of `todo` and writes their shards. One pool spans every
 * shard, so the images in flight do not drain at each shard's end, and a finished
 * shard is synced, renamed and read back while the next one's images decode.
 * Results still reach the writers in source order.
 */
async function writeShards(
  opts: PrepareOptions,
  todo: ShardJob[],
  ctx: { shape: number[]; preprocessing: Record<string, unknown>; jobs: number; progress: Progress },
): Promise<WrittenShards> {
  const { shape, preprocessing, jobs, progress } = ctx;
  const size = shape[0];
  let processed = 0;
  const items = todo.flatMap((job) => job.records.map((record, i) => ({ job, record, last: i === job.records.length - 1 })));
  let writer: ShardWriter | undefined;
  const finishing: { job: ShardJob; info: Promise<ShardInfo> }[] = [];
  const readBack = new Map<string, Promise<string>>();
  try {
    await orderedPool(
      items,
      jobs,
      ({ record }) => preprocessRecord(record, { size, kernel: opts.kernel, maxPixels: opts.maxPixels, failOn: opts.failOn }),
      async (result, { job, record, last }) => {
        writer ??= await ShardWriter.open(opts.out, job.split, job.index, shape, { preprocessing, stats: job.split === "train" });
        if (result.status === "ok") await writer.add(record.label, result.image.pixels, record.origin);
        else writer.skip(record.origin, `${result.error.reason}: ${result.error.detail}`);
        processed++;
        progress.tick(1, `${job.split} shard ${job.index + 1}`);
        if (last) {
          const info = writer.finish();
          info.then(
            ({ file }) => {
              // Read back now, while the shard is likely still in the page cache, for the verification at the end.
              const sha = sha256File(path.join(opts.out, file));
              sha.catch(() => undefined); // awaited by the verification; until then not an unhandled rejection
              readBack.set(file, sha);
            },
            () => undefined, // awaited below; meanwhile not an unhandled rejection
          );
          finishing.push({ job, info });
          writer = undefined;
        }
      },
    );
    const finished: WrittenShards["finished"] = [];
    for (const { job, info } of finishing) finished.push({ job, info: await info });
    return { finished, readBack, processed };
  } catch (err) {
    // Shards already finishing are left to complete (a rerun resumes after them); the open one is dropped.
    await Promise.allSettled(finishing.map((f) => f.info));
    await writer?.abort();
    progress.finish("interrupted");
    throw err;
  }
}

export async function prepareDataset(opts: PrepareOptions): Promise<PrepareReport> {
  const started = performance.now();
  const size = opts.size ?? 256;
  const recordsPerShard = opts.recordsPerShard ?? defaultRecordsPerShard(size);
  const shape = [size, size, 3];
  const preprocessing = preprocessingRecord(opts);
  // Only into an empty folder or a dataset's own (continued when the options match: each shard checks them).
  checkOutputFolder(opts.out, { kind: "a prepared dataset", own: isDatasetEntry, continuing: true, force: opts.force });
  const plan = planShards(opts.source, recordsPerShard);
  if (plan.length === 0) throw new Error(`the ${opts.source.format} source has no records${opts.source.skipped?.length ? ` (${opts.source.skipped.length} skipped while listing, e.g. ${opts.source.skipped[0].origin}: ${opts.source.skipped[0].reason})` : ""}; check --source and --limit-per-class`);
  const mine = workerShards(plan, opts.worker);
  const report: PrepareReport = {
    out: opts.out,
    written: {},
    skipped: [...(opts.source.skipped ?? [])],
    skippedByReason: {},
    shards: { done: 0, resumed: 0, total: plan.length },
    seconds: 0,
    imagesPerSecond: 0,
    phases: { images: 0, finalize: 0, verify: 0 },
  };
  const note = (split: SplitName, skipped: SkippedRecord[]) => {
    for (const s of skipped) report.skipped.push({ ...s, split });
  };

  // Resume: shards whose sidecar says they are done are not redone.
  const todo: ShardJob[] = [];
  for (const job of mine) {
    const done = await completedShard(opts.out, job.split, job.index, shape, { preprocessing });
    if (done) {
      report.shards.resumed++;
      report.written[job.split] = (report.written[job.split] ?? 0) + done.records;
      note(job.split, done.skipped);
    } else todo.push(job);
  }
  report.shards.done = report.shards.resumed;

  const total = todo.reduce((n, j) => n + j.records.length, 0);
  const progress = new Progress(`prepare ${opts.out}`, total, { unit: "img", mode: opts.progress });
  const jobs = Math.max(1, opts.jobs ?? Math.max(2, 2 * os.availableParallelism()));
  const imagesStarted = performance.now();
  const { finished, readBack, processed } = await writeShards(opts, todo, { shape, preprocessing, jobs, progress });
  for (const { job, info } of finished) {
    report.written[job.split] = (report.written[job.split] ?? 0) + info.records;
    note(job.split, info.skipped);
    report.shards.done++;
  }
  progress.finish();
  report.phases.images = (performance.now() - imagesStarted) / 1000;
  for (const s of report.skipped) {
    const reason = s.reason.split(":")[0];
    report.skippedByReason[reason] = (report.skippedByReason[reason] ?? 0) + 1;
  }

  // The merge: possible once every shard of the plan is done, whoever wrote it.
  const missing: string[] = [];
  for (const job of plan) if (!(await completedShard(opts.out, job.split, job.index, shape))) missing.push(`${job.split} ${job.index}`);
  if (missing.length === 0) {
    const expectedShards: Partial<Record<SplitName, number>> = {};
    for (const job of plan) expectedShards[job.split] = Math.max(expectedShards[job.split] ?? 0, job.index + 1);
    const finalizing = performance.now();
    report.manifest = await finalizeDataset(opts.out, { classes: opts.source.classes, classNames: opts.source.classNames, preprocessing, expectedShards });
    const verifying = performance.now();
    report.phases.finalize = (verifying - finalizing) / 1000;
    // Read back once, whole: what train and eval will read is what was written (a shard resumed from an earlier run included).
    report.verified = (await verifyDataset(opts.out, undefined, readBack)).checked;
    report.phases.verify = (performance.now() - verifying) / 1000;
  } else {
    report.pending = `${missing.length} of ${plan.length} shards are not done yet (other workers' share, or interrupted); the last worker to finish writes manifest.json`;
  }
  report.seconds = (performance.now() - started) / 1000;
  report.imagesPerSecond = report.seconds > 0 ? processed / report.seconds : 0;
  return report;
}

export function formatPrepareReport(r: PrepareReport): string {
  const lines = [
    `${r.manifest ? "prepared" : "partly prepared"} ${r.out}: ${Object.entries(r.written).map(([s, n]) => `${n} ${s}`).join(", ") || "nothing"} records written`,
    `  shards: ${r.shards.done} of ${r.shards.total} done by this run (${r.shards.resumed} were already done)`,
    `  time: ${r.seconds.toFixed(1)} s, ${r.imagesPerSecond.toFixed(1)} images/s`,
  ];
  if (r.skipped.length) {
    lines.push(`  skipped ${r.skipped.length}: ${Object.entries(r.skippedByReason).map(([k, n]) => `${n} ${k}`).join(", ")}`);
    for (const s of r.skipped.slice(0, 10)) lines.push(`    ${s.origin}: ${s.reason}`);
    if (r.skipped.length > 10) lines.push(`    ... and ${r.skipped.length - 10} more (see the shard sidecars, or --json)`);
    for (const reason of Object.keys(r.skippedByReason)) {
      const fix = fixFor(reason);
      if (fix) lines.push(`  ${reason}: ${fix}`);
    }
  }
  if (r.verified !== undefined) lines.push(`  verified: all ${r.verified} shards match the manifest's sha256`);
  if (r.pending) lines.push(`  ${r.pending}`);
  return lines.join("\n");
}
