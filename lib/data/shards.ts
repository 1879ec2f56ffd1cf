// Reading a prepared dataset (the format: shard-format.ts; written by
// shard-writer.ts): openDataset checks manifest.json, then each split's
// SplitReader reads records by index, in batches or in order, through a small
// cache of open shard files (both from records.ts); Dataset also gives the
// training statistics and a verify pass over every shard's checksum.
import { existsSync, readFileSync } from "node:fs";
import * as fsp from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { fileSize, readExactly, readLE, sha256File } from "../files";
import type { DatasetStatistics, ImageShape } from "./stats";
import type { SplitName } from "./types";
import { DamagedShardError, OpenFiles, ShardIndex, checkedLabel } from "./records";
import { MANIFEST_FILE, SPLIT_NAMES, RESUME_HINT, REDO_HINT, type ShardSidecar, type SplitManifest, type Manifest, readSidecar, checkManifest, type StatsFile } from "./shard-format";

export interface DataRecord {
  /** Position in the split. */
  index: number;
  label: number;
  /** H*W*C uint8, HWC. */
  pixels: Uint8Array;
  /** Present unless read with `{ origins: false }`. */
  origin?: string;
}

export interface RecordBatch {
  indices: number[];
  labels: Int32Array;
  /** The records' pixels packed one after another: shape [n, H, W, C]. */
  pixels: Uint8Array;
  shape: [number, number, number, number];
  origins?: string[];
}

export interface ReadOptions {
  /** Look up each record's origin in its shard's sidecar; default true. Turn off for training. */
  origins?: boolean;
}

export interface IterateOptions extends ReadOptions {
  start?: number;
  end?: number;
  /** Records read per disk read; one chunk is read ahead. Default: about 8 MiB worth. */
  chunkRecords?: number;
}

export interface VerifyFailure {
  file: string;
  problem: string;
}

export interface VerifyReport {
  /** Files checked. */
  checked: number;
  failures: VerifyFailure[];
  /** How to repair, when there are failures. */
  fix?: string;
}

/** One split of an open dataset: records by index, in batches, or streamed in order. */
export class SplitReader {
  /** Records in the split. */
  readonly length: number;
  private readonly index: ShardIndex;

  constructor(
    private readonly dataset: Dataset,
    readonly name: SplitName,
    readonly info: SplitManifest,
  ) {
    this.index = new ShardIndex(info.shards, `split ${name} of ${dataset.dir}`);
    this.length = this.index.length;
  }

  get classCounts(): number[] {
    return this.info.classCounts;
  }

  private readRun(shard: number, first: number, count: number): Promise<Uint8Array> {
    const rb = this.dataset.recordBytes;
    return this.dataset.readBytes(this.info.shards[shard].file, count * rb, first * rb);
  }

  /** The label stored at `offset` of bytes read from `shard`, checked against the class count (checkedLabel). */
  private label(view: DataView, offset: number, shard: number, record: number): number {
    return checkedLabel(view.getInt32(offset, true), this.dataset.classes.length, path.join(this.dataset.dir, this.info.shards[shard].file), record);
  }

  private origins(shard: number): string[] {
    return this.dataset.sidecar(this.info.shards[shard].sidecar).origins;
  }

  async readRecord(i: number, options: ReadOptions = {}): Promise<DataRecord> {
    const [shard, j] = this.index.locate(i);
    const bytes = await this.readRun(shard, j, 1);
    const record: DataRecord = { index: i, label: this.label(new DataView(bytes.buffer, bytes.byteOffset, bytes.length), 0, shard, i), pixels: bytes.subarray(4) };
    if (options.origins !== false) record.origin = this.origins(shard)[j];
    return record;
  }

  /** Reads records in any order (repeats allowed) into one packed batch; neighbours in a shard are read together. */
  async readBatch(indices: number[], options: ReadOptions = {}): Promise<RecordBatch> {
    const [h, w, c] = this.dataset.recordShape;
    const size = h * w * c;
    const rb = this.dataset.recordBytes;
    const labels = new Int32Array(indices.length);
    const pixels = new Uint8Array(indices.length * size);
    const origins = options.origins === false ? undefined : new Array<string>(indices.length);
    const wanted = indices.map((i, k) => ({ k, at: this.index.locate(i) })).sort((a, b) => a.at[0] - b.at[0] || a.at[1] - b.at[1]);
    const runs: { shard: number; first: number; count: number; members: typeof wanted }[] = [];
    for (const want of wanted) {
      const last = runs[runs.length - 1];
      const [shard, j] = want.at;
      if (last && last.shard === shard && j <= last.first + last.count) {
        last.count = Math.max(last.count, j - last.first + 1);
        last.members.push(want);
      } else runs.push({ shard, first: j, count: 1, members: [want] });
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < runs.length) {
        const run = runs[next++];
        const bytes = await this.readRun(run.shard, run.first, run.count);
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
        for (const m of run.members) {
          const off = (m.at[1] - run.first) * rb;
          labels[m.k] = this.label(view, off, run.shard, indices[m.k]);
          pixels.set(bytes.subarray(off + 4, off + rb), m.k * size);
          if (origins) origins[m.k] = this.origins(run.shard)[m.at[1]];
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, runs.length) }, worker));
    return { indices: indices.slice(), labels, pixels, shape: [indices.length, h, w, c], ...(origins ? { origins } : {}) };
  }

  /** Streams records in order, shard by shard, holding at most two chunks in memory. */
  async *records(options: IterateOptions = {}): AsyncGenerator<DataRecord, void, undefined> {
    const start = options.start ?? 0;
    const end = options.end ?? this.length;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > this.length || start > end) {
      throw new RangeError(`records(): range ${start}..${end} is outside split ${this.name} of ${this.dataset.dir}, which has ${this.length} records.`);
    }
    if (start === end) return;
    const rb = this.dataset.recordBytes;
    const chunk = Math.max(1, Math.floor(options.chunkRecords ?? (8 << 20) / rb));
    const chunks: { shard: number; first: number; count: number; index: number }[] = [];
    for (let i = start; i < end; ) {
      const [shard, j] = this.index.locate(i);
      const count = Math.min(chunk, this.info.shards[shard].records - j, end - i);
      chunks.push({ shard, first: j, count, index: i });
      i += count;
    }
    const read = (k: number): Promise<Uint8Array> | undefined => {
      if (k >= chunks.length) return undefined;
      const p = this.readRun(chunks[k].shard, chunks[k].first, chunks[k].count);
      p.catch(() => undefined); // a read-ahead the caller never reaches must not be an unhandled rejection
      return p;
    };
    let pending = read(0);
    for (let k = 0; pending; k++) {
      const bytes = await pending;
      pending = read(k + 1);
      const { shard, first, count, index } = chunks[k];
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      const origins = options.origins === false ? undefined : this.origins(shard);
      for (let r = 0; r < count; r++) {
        const record: DataRecord = { index: index + r, label: this.label(view, r * rb, shard, index + r), pixels: bytes.subarray(r * rb + 4, (r + 1) * rb) };
        if (origins) record.origin = origins[first + r];
        yield record;
      }
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<DataRecord, void, undefined> {
    return this.records();
  }

  /** Every record's label, from the sidecars (no pixel reads). */
  labels(): Int32Array {
    const out = new Int32Array(this.length);
    this.info.shards.forEach((s, k) => out.set(this.dataset.sidecar(s.sidecar).labels, this.index.start(k)));
    return out;
  }

  origin(i: number): string {
    const [shard, j] = this.index.locate(i);
    return this.origins(shard)[j];
  }
}

/** A prepared dataset opened for reading; create with openDataset(). */
export class Dataset {
  readonly recordShape: ImageShape;
  readonly recordBytes: number;
  readonly classes: string[];
  /** Shard files stay open between reads, up to 32; a file in use is closed only once its reads end. */
  private readonly handles = new OpenFiles<Promise<FileHandle>>(
    32,
    (file) => {
      const handle = fsp.open(file, "r");
      handle.catch(() => undefined); // the read that asked for it reports the failure
      return handle;
    },
    async (handle) => {
      try {
        await (await handle).close();
      } catch {
        /* never opened, or already closed */
      }
    },
  );
  private readonly sidecars = new Map<string, ShardSidecar>();
  private readonly readers = new Map<SplitName, SplitReader>();

  constructor(
    readonly dir: string,
    readonly manifest: Manifest,
  ) {
    this.recordShape = manifest.recordShape;
    this.recordBytes = manifest.recordBytes;
    this.classes = manifest.classes;
  }

  /** Splits present, in the order train, val. */
  get splitNames(): SplitName[] {
    return SPLIT_NAMES.filter((s) => this.manifest.splits[s]);
  }

  split(name: SplitName): SplitReader {
    const info = this.manifest.splits[name];
    if (!info) throw new Error(`${this.dir} has no ${name} split (it has ${this.splitNames.join(", ") || "none"}); the source it was prepared from had no ${name} records.`);
    let reader = this.readers.get(name);
    if (!reader) this.readers.set(name, (reader = new SplitReader(this, name, info)));
    return reader;
  }

  /** Bytes of a file of the dataset; shard files stay open (a bounded number) between reads. */
  readBytes(file: string, length: number, position: number): Promise<Uint8Array> {
    const where = path.join(this.dir, file);
    return this.withHandle(where, (fh) => readExactly(fh, length, position, where, REDO_HINT));
  }

  private async withHandle<T>(file: string, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    const lease = this.handles.acquire(file);
    try {
      let fh: FileHandle;
      try {
        fh = await lease.handle;
      } catch (err) {
        lease.discard(); // let the next read try to open it again
        throw new Error(`cannot open ${file} (${(err as Error).message}); ${REDO_HINT}.`);
      }
      return await fn(fh);
    } finally {
      await lease.release();
    }
  }

  /** A shard's sidecar, parsed; the last few stay cached. */
  sidecar(name: string): ShardSidecar {
    let sidecar = this.sidecars.get(name);
    if (sidecar) {
      this.sidecars.delete(name);
    } else {
      sidecar = readSidecar(path.join(this.dir, name));
      if (this.sidecars.size >= 8) this.sidecars.delete(this.sidecars.keys().next().value as string);
    }
    this.sidecars.set(name, sidecar);
    return sidecar;
  }

  private statsPaths(): { json: string; mean: string } {
    const stats = this.manifest.stats;
    if (!stats) throw new Error(`${this.dir} has no training statistics: it has no train split, or its shards were written without \`stats: true\`; prepare it again to get them.`);
    return { json: path.join(this.dir, stats.json), mean: path.join(this.dir, stats.meanImage) };
  }

  /** The per-pixel mean of the training images, H*W*C float32 in pixel units (0..255). */
  meanImage(): Float32Array {
    const [h, w, c] = this.recordShape;
    return readLE(this.statsPaths().mean, 4, h * w * c, REDO_HINT) as Float32Array;
  }

  /** Mean image, channel mean, RGB covariance and its eigen-decomposition (pixel units). */
  statistics(): DatasetStatistics {
    const where = this.statsPaths();
    let file: StatsFile;
    try {
      file = JSON.parse(readFileSync(where.json, "utf8")) as StatsFile;
    } catch (err) {
      throw new Error(`${where.json} cannot be read (${(err as Error).message}); ${REDO_HINT}.`);
    }
    return {
      shape: file.shape,
      images: file.images,
      pixels: file.pixels,
      meanImage: this.meanImage(),
      channelMean: file.channelMean,
      covariance: file.covariance,
      eigenvalues: file.eigenvalues,
      eigenvectors: file.eigenvectors,
    };
  }

  /**
   * Recomputes the sha256 of every shard and compares it with the manifest. `readBack`
   * holds the sha256 of shard files (by file name, as in the manifest) that the caller
   * has just read back whole itself: prepare hashes each shard as it finishes, while
   * later shards decode, rather than reading them all again at the end.
   */
  async verify(onFile?: (file: string, done: number, total: number) => void, readBack?: ReadonlyMap<string, Promise<string>>): Promise<VerifyReport> {
    const shards = this.splitNames.flatMap((s) => (this.manifest.splits[s] as SplitManifest).shards);
    const failures: VerifyFailure[] = [];
    let done = 0;
    for (const shard of shards) {
      const file = path.join(this.dir, shard.file);
      const size = fileSize(file);
      if (size === undefined) failures.push({ file, problem: "missing" });
      else if (size !== shard.bytes) failures.push({ file, problem: `${size} bytes, the manifest says ${shard.bytes}` });
      else {
        const sha = await (readBack?.get(shard.file) ?? sha256File(file));
        if (sha !== shard.sha256) failures.push({ file, problem: `sha256 ${sha}, the manifest says ${shard.sha256}` });
      }
      onFile?.(file, ++done, shards.length);
    }
    return { checked: shards.length, failures, ...(failures.length ? { fix: `for each damaged shard, ${REDO_HINT}` } : {}) };
  }

  async close(): Promise<void> {
    await Promise.all(this.handles.closeAll());
    this.sidecars.clear();
  }
}

/** Lines for a terminal: every shard that differs from the manifest, and how to repair. */
export function formatVerifyReport(dir: string, report: VerifyReport): string {
  if (report.failures.length === 0) return `${dir}: all ${report.checked} shards match the manifest's sizes and sha256`;
  return [
    `${dir}: ${report.failures.length} of ${report.checked} shards differ from the manifest`,
    ...report.failures.map((f) => `  ${f.file}: ${f.problem}`),
    `  ${report.fix ?? ""}`,
  ].join("\n");
}

/**
 * Checks every shard of the dataset at `dir` against its manifest (sizes and
 * sha256) and throws DamagedShardError naming the damaged ones and the repair;
 * for `--verify` on train and eval, and after prepare.
 */
export async function verifyDataset(
  dir: string,
  onFile?: (file: string, done: number, total: number) => void,
  readBack?: ReadonlyMap<string, Promise<string>>,
): Promise<VerifyReport> {
  const dataset = openDataset(dir);
  try {
    const report = await dataset.verify(onFile, readBack);
    if (report.failures.length > 0) throw new DamagedShardError(formatVerifyReport(dir, report), report.failures[0].file);
    return report;
  } finally {
    await dataset.close();
  }
}

/**
 * Opens a prepared dataset. Reads only manifest.json and checks that every
 * shard file is present with the right size; records are read on demand.
 */
export function openDataset(dir: string): Dataset {
  const manifestPath = path.join(dir, MANIFEST_FILE);
  if (!existsSync(dir)) throw new Error(`${dir} does not exist; prepare a dataset with \`alexnet prepare\` first.`);
  if (!existsSync(manifestPath)) {
    throw new Error(`${dir} has no ${MANIFEST_FILE}: it was not prepared, or preparation was interrupted; ${RESUME_HINT}.`);
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest;
  } catch (err) {
    throw new Error(`${manifestPath} is not valid JSON (${(err as Error).message}); delete it and ${RESUME_HINT}.`);
  }
  checkManifest(manifest, manifestPath);
  for (const split of SPLIT_NAMES) {
    for (const shard of manifest.splits[split]?.shards ?? []) {
      const file = path.join(dir, shard.file);
      const size = fileSize(file);
      if (size === undefined) throw new Error(`${file} is missing, though ${manifestPath} lists it; ${REDO_HINT}.`);
      if (size !== shard.bytes) throw new Error(`${file} is ${size} bytes, but ${manifestPath} says ${shard.bytes}: it was truncated or replaced; ${REDO_HINT}.`);
    }
  }
  return new Dataset(dir, manifest);
}
