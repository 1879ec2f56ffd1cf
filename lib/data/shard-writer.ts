// Writing a prepared dataset: shards filled record by record, each closed with
// its sidecar, then finalizeDataset gathers them (from worker folders too),
// writes the statistics and manifest.json last. Every file appears by rename
// after it is complete and synced (lib/files.ts), so an interrupted run leaves
// only temporaries, and a shard whose sidecar exists is done: that is what
// resume and the multi-worker merge both rely on.
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import * as fsp from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { FolderInUseError } from "../folders";
import { canonicalJSON, describeWriteError, fileSize, float32ToLE, float64ToLE, moveFile, readLE, sha256File, tempName, writeAll, writeFileAtomic } from "../files";
import { accumulate, checkImageShape, emptyStats, finalizeStats, mergeStats } from "./stats";
import { type RgbStats, createRgbStats } from "./stats-wasm";
import type { DatasetStatistics, ImageShape, PartialStats } from "./stats";
import type { SplitName } from "./types";
import { FORMAT_VERSION, MANIFEST_FILE, STATS_FILE, MEAN_IMAGE_FILE, SPLIT_NAMES, RESUME_HINT, REDO_HINT, recordBytes, shardStem, type ShardSidecar, type SkippedRecord, type SidecarStats, type ShardInfo, type ShardEntry, type SplitManifest, type Manifest, sameShape, readSidecar, checkManifest, type DatasetInfo, SIDECAR_NAME, type StatsFile } from "./shard-format";

export interface ShardWriterOptions {
  /** Stored in the sidecar; resume and merge refuse shards made with other options. */
  preprocessing?: Record<string, unknown>;
  /** Keep partial statistics of the images (do this for the training split). */
  stats?: boolean;
  /** Bytes buffered between writes; default 4 MiB. */
  bufferBytes?: number;
}

/**
 * Writes one shard: records go to a temporary file, which is synced and renamed
 * to `<split>-NNNNN.bin` by finish(); the sidecar follows by the same route.
 * One writer per shard index at a time: opening a writer discards any earlier
 * copy of that shard, finished or not.
 */
export class ShardWriter {
  private used = 0;
  private position = 0;
  private writing: Promise<void> = Promise.resolve();
  /** Buffers whose write has completed, for the next flush: a fresh 4 MiB per flush cost page faults and garbage collections. */
  private readonly spare: Buffer[] = [];
  private state: "open" | "finished" | "aborted" = "open";
  private readonly hash = createHash("sha256");
  private readonly labels: number[] = [];
  private readonly origins: string[] = [];
  private readonly skipped: SkippedRecord[] = [];
  /** The statistics loop in WebAssembly where it runs (RGB records), else stats.ts's accumulate. */
  private readonly fastStats: RgbStats | undefined;

  private constructor(
    readonly dir: string,
    readonly split: SplitName,
    readonly index: number,
    readonly recordShape: ImageShape,
    private readonly fh: FileHandle,
    private readonly tmpPath: string,
    private buffer: Buffer,
    private readonly preprocessing: Record<string, unknown>,
    private readonly partial: PartialStats | undefined,
  ) {
    this.fastStats = partial ? createRgbStats(recordShape) : undefined;
  }

  static async open(dir: string, split: SplitName, index: number, recordShape: readonly number[], options: ShardWriterOptions = {}): Promise<ShardWriter> {
    if (!SPLIT_NAMES.includes(split)) throw new Error(`ShardWriter: split must be one of ${SPLIT_NAMES.join(", ")}, got ${JSON.stringify(split)}.`);
    const shape = checkImageShape(recordShape, "record shape");
    const stem = shardStem(split, index);
    await fsp.mkdir(dir, { recursive: true });
    if (existsSync(path.join(dir, MANIFEST_FILE))) {
      throw new Error(`${dir} already holds a finished dataset (${MANIFEST_FILE} exists); prepare into another folder, or delete ${path.join(dir, MANIFEST_FILE)} first to change it.`);
    }
    // The sidecar goes first: while it exists the .bin must be the one it describes.
    await fsp.rm(path.join(dir, `${stem}.json`), { force: true });
    for (const name of await fsp.readdir(dir)) {
      if (name.startsWith(`${stem}.`) && (name.includes(".tmp-") || name.endsWith(".bin") || name.endsWith(".sum.f64"))) await fsp.rm(path.join(dir, name), { force: true });
    }
    const rb = recordBytes(shape);
    const capacity = Math.max(1, Math.floor((options.bufferBytes ?? 4 << 20) / rb)) * rb;
    const tmpPath = tempName(path.join(dir, `${stem}.bin`));
    const fh = await fsp.open(tmpPath, "w");
    return new ShardWriter(dir, split, index, shape, fh, tmpPath, Buffer.allocUnsafe(capacity), options.preprocessing ?? {}, options.stats ? emptyStats(shape) : undefined);
  }

  /** Records added so far. */
  get records(): number {
    return this.labels.length;
  }

  /** Appends a record; safe to call without awaiting, records keep their order. */
  add(label: number, pixels: Uint8Array, origin: string): Promise<void> {
    const file = path.join(this.dir, `${shardStem(this.split, this.index)}.bin`);
    if (this.state !== "open") return Promise.reject(new Error(`ShardWriter for ${file}: add() after ${this.state === "finished" ? "finish()" : "abort()"}.`));
    const [h, w, c] = this.recordShape;
    if (!Number.isInteger(label) || label < 0 || label > 0x7fffffff) return Promise.reject(new Error(`${origin}: label must be an integer in 0..2^31-1, got ${label}.`));
    if (!(pixels instanceof Uint8Array) || pixels.length !== h * w * c) {
      return Promise.reject(new Error(`${origin}: record has ${pixels?.length} pixel values, but ${file} holds ${h}x${w}x${c} = ${h * w * c} (uint8, HWC); resize the image before adding it.`));
    }
    if (typeof origin !== "string") return Promise.reject(new Error(`ShardWriter for ${file}: origin must be a string.`));
    const at = this.used;
    this.buffer.writeInt32LE(label, at);
    this.buffer.set(pixels, at + 4);
    this.hash.update(this.buffer.subarray(at, at + 4 + pixels.length));
    this.used += 4 + pixels.length;
    this.labels.push(label);
    this.origins.push(origin);
    if (this.fastStats && this.partial) this.fastStats.add(this.partial, pixels);
    else if (this.partial) accumulate(this.partial, pixels);
    return this.used === this.buffer.length ? this.flush() : this.writing;
  }

  /** Notes a source record that belongs to this shard's range but was not written (a bad image). */
  skip(origin: string, reason: string): void {
    this.skipped.push({ origin, reason });
  }

  private flush(): Promise<void> {
    if (this.used > 0) {
      const full = this.buffer;
      const chunk = full.subarray(0, this.used);
      const at = this.position;
      this.position += this.used;
      this.buffer = this.spare.pop() ?? Buffer.allocUnsafe(full.length);
      this.used = 0;
      this.writing = this.writing.then(() =>
        writeAll(this.fh, chunk, at).then(
          () => void this.spare.push(full),
          (err) => Promise.reject(this.writeFailure(err)),
        ),
      );
    }
    return this.writing;
  }

  /** A full disk or a permission error, named with the shard and what survives it. */
  private writeFailure(err: unknown): unknown {
    const file = path.join(this.dir, `${shardStem(this.split, this.index)}.bin`);
    return describeWriteError(err, file, "the shards finished before this one are kept, and prepare redoes only the rest");
  }

  /** Syncs and renames the shard into place, then writes its sidecar: from here on the shard counts as done. */
  async finish(): Promise<ShardInfo> {
    if (this.state !== "open") throw new Error(`ShardWriter for ${shardStem(this.split, this.index)}: finish() after ${this.state === "finished" ? "finish()" : "abort()"}.`);
    this.state = "finished";
    const stem = shardStem(this.split, this.index);
    const file = `${stem}.bin`;
    try {
      await this.flush();
      await this.fh.sync();
    } catch (err) {
      await this.fh.close().catch(() => undefined);
      await fsp.rm(this.tmpPath, { force: true });
      throw this.writeFailure(err);
    }
    await this.fh.close();
    await fsp.rename(this.tmpPath, path.join(this.dir, file));
    const sha256 = this.hash.digest("hex");
    const sidecar: ShardSidecar = {
      format: "alexnet-shard",
      version: FORMAT_VERSION,
      split: this.split,
      index: this.index,
      file,
      recordShape: this.recordShape,
      recordBytes: recordBytes(this.recordShape),
      records: this.labels.length,
      bytes: this.position,
      sha256,
      preprocessing: this.preprocessing,
      labels: this.labels,
      origins: this.origins,
    };
    if (this.skipped.length) sidecar.skipped = this.skipped;
    if (this.partial) {
      this.fastStats?.flush(this.partial);
      const sums = float64ToLE(this.partial.pixelSum);
      const sumFile = `${stem}.sum.f64`;
      await writeFileAtomic(path.join(this.dir, sumFile), sums);
      const { images, pixels, channelSum, crossSum } = this.partial;
      sidecar.stats = { file: sumFile, sha256: createHash("sha256").update(sums).digest("hex"), images, pixels, channelSum, crossSum };
    }
    // Last, and with the folder synced (writeFileAtomic): the sidecar is what marks the shard done.
    await writeFileAtomic(path.join(this.dir, `${stem}.json`), JSON.stringify(sidecar));
    return { split: this.split, index: this.index, file, sidecar: `${stem}.json`, records: sidecar.records, bytes: sidecar.bytes, sha256, hasStats: !!this.partial, skipped: this.skipped };
  }

  /** Drops the shard: closes and deletes the temporary file. */
  async abort(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "aborted";
    await this.writing.catch(() => undefined);
    await this.fh.close().catch(() => undefined);
    await fsp.rm(this.tmpPath, { force: true });
  }
}

export interface CompletedShardOptions {
  /** Refuse (throw) if the shard was made with other preprocessing options. */
  preprocessing?: Record<string, unknown>;
  /** Also recompute the sha256 of the .bin (slow: reads the whole shard). */
  verify?: boolean;
}

/**
 * The resume check: the shard is done when its sidecar exists and the .bin (and
 * statistics file, if any) have the sizes it records. Returns undefined for a
 * shard that must be (re)written; throws when it was made with another record
 * shape or other preprocessing, since mixing those would corrupt the dataset.
 */
export async function completedShard(dir: string, split: SplitName, index: number, recordShape: readonly number[], options: CompletedShardOptions = {}): Promise<ShardInfo | undefined> {
  const shape = checkImageShape(recordShape, "record shape");
  const stem = shardStem(split, index);
  const sidecarPath = path.join(dir, `${stem}.json`);
  if (!existsSync(sidecarPath)) return undefined;
  let sidecar: ShardSidecar;
  try {
    sidecar = readSidecar(sidecarPath);
  } catch {
    return undefined; // unreadable: rewriting the shard replaces it
  }
  if (!sameShape(sidecar.recordShape, shape)) {
    throw new FolderInUseError(`${sidecarPath} holds ${sidecar.recordShape.join("x")} records but this run makes ${shape.join("x")}: ${dir} was prepared with other options; prepare into a new folder, or delete ${dir} to start over.`, dir, [sidecarPath]);
  }
  if (options.preprocessing && canonicalJSON(sidecar.preprocessing) !== canonicalJSON(options.preprocessing)) {
    // Another dataset's shard: a refusal to overwrite it (exit 2), like a folder of other files.
    throw new FolderInUseError(`${sidecarPath} was made with preprocessing ${canonicalJSON(sidecar.preprocessing)}, but this run uses ${canonicalJSON(options.preprocessing)}; prepare into a new folder, or delete ${dir} to start over.`, dir, [sidecarPath]);
  }
  const bin = path.join(dir, sidecar.file);
  if (sidecar.bytes !== sidecar.records * recordBytes(shape) || fileSize(bin) !== sidecar.bytes) return undefined;
  if (sidecar.stats && fileSize(path.join(dir, sidecar.stats.file)) !== shape[0] * shape[1] * shape[2] * 8) return undefined;
  if (options.verify && (await sha256File(bin)) !== sidecar.sha256) return undefined;
  return { split, index, file: sidecar.file, sidecar: `${stem}.json`, records: sidecar.records, bytes: sidecar.bytes, sha256: sidecar.sha256, hasStats: !!sidecar.stats, skipped: sidecar.skipped ?? [] };
}

/** Writes manifest.json atomically; its appearance is what marks the dataset complete. */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  checkManifest(manifest, path.join(dir, MANIFEST_FILE));
  await writeFileAtomic(path.join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 1)}\n`);
}

async function gatherShards(dir: string, from: string): Promise<void> {
  if (!existsSync(from)) throw new Error(`${from} does not exist: cannot gather its shards into ${dir}; check the worker folders you listed.`);
  for (const name of readdirSync(from).filter((n) => SIDECAR_NAME.test(n)).sort()) {
    const source = readSidecar(path.join(from, name));
    const target = path.join(dir, name);
    if (existsSync(target)) {
      if (readSidecar(target).sha256 === source.sha256) continue;
      throw new Error(`${path.join(from, name)} and ${target} are different copies of the same shard: two workers wrote one shard index; check that each worker ran with its own --shard I/N.`);
    }
    if (fileSize(path.join(from, source.file)) !== source.bytes) throw new Error(`${path.join(from, source.file)} does not have the ${source.bytes} bytes its sidecar records; ${RESUME_HINT} in ${from}.`);
    await moveFile(path.join(from, source.file), path.join(dir, source.file));
    if (source.stats) await moveFile(path.join(from, source.stats.file), path.join(dir, source.stats.file));
    await moveFile(path.join(from, name), target); // the sidecar last: it marks the shard done
  }
}

function shardList(names: string[], limit = 8): string {
  return names.length > limit ? `${names.slice(0, limit).join(", ")} and ${names.length - limit} more` : names.join(", ");
}

/**
 * The last step of preparation, for one process or for N workers that wrote
 * disjoint shard indices into `dir` (or into `info.from` folders): checks the
 * finished shards agree and leave no gap, merges the training statistics into
 * stats.json and mean.f32, and writes manifest.json. Safe to run again.
 */
export async function finalizeDataset(dir: string, info: DatasetInfo): Promise<Manifest> {
  if (!existsSync(dir) && !info.from?.length) throw new Error(`${dir} does not exist: there is nothing to finalize; run \`alexnet prepare\` first.`);
  if (!Array.isArray(info.classes) || info.classes.length === 0) throw new Error("finalizeDataset: classes must be a non-empty list.");
  if (info.classNames && info.classNames.length !== info.classes.length) throw new Error(`finalizeDataset: ${info.classNames.length} class names for ${info.classes.length} classes.`);
  await fsp.mkdir(dir, { recursive: true });
  for (const from of info.from ?? []) await gatherShards(dir, from);

  const found: Record<SplitName, Map<number, ShardSidecar>> = { train: new Map(), val: new Map() };
  let shape: ImageShape | undefined;
  let shapeFrom = "";
  const wanted = canonicalJSON(info.preprocessing);
  for (const name of readdirSync(dir).sort()) {
    const match = SIDECAR_NAME.exec(name);
    if (!match) continue;
    const where = path.join(dir, name);
    const sidecar = readSidecar(where);
    const split = match[1] as SplitName;
    const index = Number(match[2]);
    if (sidecar.split !== split || sidecar.index !== index) throw new Error(`${where} describes shard ${sidecar.split} ${sidecar.index}, not the one its name says; ${REDO_HINT}.`);
    const recordShape = checkImageShape(sidecar.recordShape, `${where} recordShape`);
    if (!shape) [shape, shapeFrom] = [recordShape, where];
    else if (!sameShape(shape, recordShape)) throw new Error(`${where} holds ${recordShape.join("x")} records but ${shapeFrom} holds ${shape.join("x")}: shards from different preparations are mixed in ${dir}; prepare into a new folder.`);
    if (canonicalJSON(sidecar.preprocessing) !== wanted) throw new Error(`${where} was made with preprocessing ${canonicalJSON(sidecar.preprocessing)}, not ${wanted}: shards from different preparations are mixed in ${dir}; prepare into a new folder.`);
    if (sidecar.bytes !== sidecar.records * recordBytes(recordShape) || fileSize(path.join(dir, sidecar.file)) !== sidecar.bytes) {
      throw new Error(`${path.join(dir, sidecar.file)} does not have the ${sidecar.bytes} bytes ${where} records; ${REDO_HINT}.`);
    }
    const bad = sidecar.labels.find((l) => !Number.isInteger(l) || l < 0 || l >= info.classes.length);
    if (bad !== undefined) throw new Error(`${where} has label ${bad}, but there are ${info.classes.length} classes (labels 0..${info.classes.length - 1}); the class list passed to the merge differs from the one used to prepare.`);
    found[split].set(index, sidecar);
  }
  if (!shape) throw new Error(`${dir} has no finished shards (no ${"<split>-NNNNN.json"} sidecars); ${RESUME_HINT}.`);
  const recordShape: ImageShape = shape;

  const splits: Partial<Record<SplitName, SplitManifest>> = {};
  for (const split of SPLIT_NAMES) {
    const shards = found[split];
    const expected = info.expectedShards?.[split];
    if (shards.size === 0 && !expected) continue;
    const total = expected ?? Math.max(...shards.keys()) + 1;
    const missing: string[] = [];
    for (let i = 0; i < total; i++) if (!shards.has(i)) missing.push(`${shardStem(split, i)}.json`);
    if (missing.length) throw new Error(`${dir} is missing finished shards ${shardList(missing)}: a worker has not finished or was interrupted; ${RESUME_HINT} (each worker with its own --shard I/N), then merge again.`);
    const extra = [...shards.keys()].filter((i) => i >= total).map((i) => `${shardStem(split, i)}.json`);
    if (extra.length) throw new Error(`${dir} has shards beyond the ${total} expected for ${split}: ${shardList(extra)}; they are left from a run with other options: delete them, or prepare into a new folder.`);
    const entries: ShardEntry[] = [];
    const classCounts = new Array<number>(info.classes.length).fill(0);
    for (let i = 0; i < total; i++) {
      const s = shards.get(i) as ShardSidecar;
      entries.push({ file: s.file, sidecar: `${shardStem(split, i)}.json`, records: s.records, bytes: s.bytes, sha256: s.sha256 });
      for (const l of s.labels) classCounts[l]++;
    }
    const skipped = [...shards.values()].reduce((n, s) => n + (s.skipped?.length ?? 0), 0);
    splits[split] = { count: entries.reduce((n, e) => n + e.records, 0), shards: entries, classCounts, skipped };
  }

  let stats: Manifest["stats"];
  const train = [...found.train.values()];
  const withStats = train.filter((s) => s.stats);
  if (withStats.length > 0) {
    if (withStats.length !== train.length) {
      const lacking = train.filter((s) => !s.stats).map((s) => `${shardStem("train", s.index)}.json`);
      throw new Error(`${dir}: some training shards lack statistics (${shardList(lacking)}); ${REDO_HINT}.`);
    }
    let merged = emptyStats(recordShape);
    for (const s of withStats) {
      const st = s.stats as SidecarStats;
      const pixelSum = readLE(path.join(dir, st.file), 8, recordShape[0] * recordShape[1] * recordShape[2], REDO_HINT) as Float64Array;
      merged = mergeStats(merged, { shape: recordShape, images: st.images, pixels: st.pixels, pixelSum, channelSum: st.channelSum, crossSum: st.crossSum });
    }
    if (merged.images > 0) {
      await writeStatistics(dir, finalizeStats(merged));
      stats = { split: "train", json: STATS_FILE, meanImage: MEAN_IMAGE_FILE };
    }
  }

  const manifest: Manifest = {
    format: "alexnet-dataset",
    version: FORMAT_VERSION,
    classes: info.classes,
    ...(info.classNames ? { classNames: info.classNames } : {}),
    recordShape,
    recordBytes: recordBytes(recordShape),
    labelDtype: "<i4",
    pixelDtype: "u1",
    splits,
    preprocessing: info.preprocessing,
    ...(stats ? { stats } : {}),
    created: { ...(info.created ?? {}), at: new Date().toISOString() },
  };
  await writeManifest(dir, manifest);
  return manifest;
}

/** Writes stats.json and mean.f32 (float32 little-endian, HWC) atomically. */
export async function writeStatistics(dir: string, stats: DatasetStatistics): Promise<void> {
  const shape = checkImageShape(stats.shape, "statistics shape");
  if (stats.meanImage.length !== shape[0] * shape[1] * shape[2]) throw new Error(`writeStatistics: mean image has ${stats.meanImage.length} values, shape ${shape.join("x")} needs ${shape[0] * shape[1] * shape[2]}.`);
  await writeFileAtomic(path.join(dir, MEAN_IMAGE_FILE), float32ToLE(stats.meanImage));
  const file: StatsFile = {
    format: "alexnet-stats",
    version: FORMAT_VERSION,
    units: "pixel values 0..255",
    split: "train",
    shape,
    images: stats.images,
    pixels: stats.pixels,
    meanImage: { file: MEAN_IMAGE_FILE, dtype: "<f4", shape },
    channelMean: stats.channelMean,
    covariance: stats.covariance,
    eigenvalues: stats.eigenvalues,
    eigenvectors: stats.eigenvectors,
    eigenvectorLayout: "rows: eigenvectors[k] is the unit eigenvector of eigenvalues[k]",
  };
  await writeFileAtomic(path.join(dir, STATS_FILE), `${JSON.stringify(file, null, 1)}\n`);
}
