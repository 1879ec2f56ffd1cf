// The prepared-dataset format on disk (data/FORMAT.md): packed uint8 HWC shards,
// one JSON sidecar per finished shard, training statistics, and manifest.json
// written last. Every file appears by rename after it is complete and synced, so
// an interrupted run leaves only temporaries, and a shard whose sidecar exists is
// done: that is what resume and the multi-worker merge both rely on.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import * as fsp from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { accumulate, checkImageShape, emptyStats, finalizeStats, mergeStats } from "./stats";
import type { DatasetStatistics, ImageShape, PartialStats } from "./stats";
import type { SplitName } from "./types";

export const FORMAT_VERSION = 1;
export const MANIFEST_FILE = "manifest.json";
export const STATS_FILE = "stats.json";
export const MEAN_IMAGE_FILE = "mean.f32";
export const SPLIT_NAMES: readonly SplitName[] = ["train", "val"];

const RESUME_HINT = "run `alexnet prepare` again with the same options to resume";
const REDO_HINT = "delete that shard's .bin and .json files and manifest.json, then run `alexnet prepare` again with the same options: it redoes only the missing shards";

/** Bytes of one record: an int32 label, then H*W*C uint8 pixels. */
export function recordBytes(shape: readonly number[]): number {
  const [h, w, c] = checkImageShape(shape, "record shape");
  return 4 + h * w * c;
}

/** "train-00042": the shared stem of a shard's .bin, .json and .sum.f64 files. */
export function shardStem(split: SplitName, index: number): string {
  if (!Number.isInteger(index) || index < 0) throw new Error(`shard index must be a non-negative integer, got ${index}.`);
  return `${split}-${String(index).padStart(5, "0")}`;
}

/** The JSON sidecar of a finished shard (`train-00042.json`). */
export interface ShardSidecar {
  format: "alexnet-shard";
  version: number;
  split: SplitName;
  index: number;
  /** The .bin file, relative to the dataset folder. */
  file: string;
  recordShape: ImageShape;
  recordBytes: number;
  records: number;
  /** Size of the .bin: records * recordBytes. */
  bytes: number;
  /** Hex sha256 of the .bin. */
  sha256: string;
  /** The preprocessing options the shard was made with; all shards of a dataset must agree. */
  preprocessing: Record<string, unknown>;
  /** Label of each record, in file order. */
  labels: number[];
  /** Source of each record (file path, "data_batch_1.bin#1234", ...), in file order. */
  origins: string[];
  /** Partial statistics of the shard's images, when the writer kept them (training split). */
  stats?: SidecarStats;
  /** Source records that were meant for this shard but could not be used, with the reason. */
  skipped?: SkippedRecord[];
}

export interface SkippedRecord {
  origin: string;
  reason: string;
}

export interface SidecarStats {
  /** Float64 little-endian sum of each pixel value over the shard's images, H*W*C, HWC order. */
  file: string;
  sha256: string;
  images: number;
  pixels: number;
  channelSum: number[];
  crossSum: number[];
}

/** What a finished shard holds; file names are relative to the dataset folder. */
export interface ShardInfo {
  split: SplitName;
  index: number;
  file: string;
  sidecar: string;
  records: number;
  bytes: number;
  sha256: string;
  hasStats: boolean;
  /** Records of the shard's source range that were skipped, kept so a resumed run can still report them. */
  skipped: SkippedRecord[];
}

export interface ShardEntry {
  file: string;
  sidecar: string;
  records: number;
  bytes: number;
  sha256: string;
}

export interface SplitManifest {
  /** Records in the split; record i is found by walking the shards in order. */
  count: number;
  shards: ShardEntry[];
  /** Records per class, indexed by label. */
  classCounts: number[];
  /** Source records left out (bad images); the sidecars list each with its reason. */
  skipped: number;
}

export interface Manifest {
  format: "alexnet-dataset";
  version: number;
  classes: string[];
  classNames?: string[];
  /** [height, width, channels]; pixels are row-major HWC uint8. */
  recordShape: ImageShape;
  recordBytes: number;
  /** numpy spellings of the two fields of a record. */
  labelDtype: "<i4";
  pixelDtype: "u1";
  splits: Partial<Record<SplitName, SplitManifest>>;
  /** Opaque options the records were made with (size, resize kernel, source format and path, ...). */
  preprocessing: Record<string, unknown>;
  /** Statistics of the training split, when it has them. */
  stats?: { split: "train"; json: string; meanImage: string };
  created: { at: string } & Record<string, unknown>;
}

// ---------------------------------------------------------------- small helpers

function tempName(file: string): string {
  return `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
}

async function syncDir(dir: string): Promise<void> {
  // Makes the renames durable; not every platform can open a directory.
  try {
    const fh = await fsp.open(dir, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* best effort */
  }
}

async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempName(file);
  try {
    const fh = await fsp.open(tmp, "w");
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

async function writeAll(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

async function readExactly(fh: FileHandle, length: number, position: number, file: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(out, done, length - done, position + done);
    if (bytesRead === 0) throw new Error(`${file} ended at byte ${position + done}, before the ${length} bytes wanted at ${position}: the file is truncated; ${REDO_HINT}.`);
    done += bytesRead;
  }
  return out;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** JSON with object keys sorted, so equal options compare equal whatever their key order. */
function canonicalJSON(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJSON).join(",")}]`;
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJSON(obj[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function float64ToLE(values: Float64Array): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i], true);
  return out;
}

function float32ToLE(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return out;
}

function readLE(file: string, bytesPer: 4 | 8, count: number): Float64Array | Float32Array {
  const buf = readFileSync(file);
  if (buf.length !== count * bytesPer) throw new Error(`${file} is ${buf.length} bytes, expected ${count * bytesPer} (${count} values of ${bytesPer} bytes); ${REDO_HINT}.`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  if (bytesPer === 8) {
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
    return out;
  }
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function fileSize(file: string): number | undefined {
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- writing

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
  private state: "open" | "finished" | "aborted" = "open";
  private readonly hash = createHash("sha256");
  private readonly labels: number[] = [];
  private readonly origins: string[] = [];
  private readonly skipped: SkippedRecord[] = [];

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
  ) {}

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
    if (this.partial) accumulate(this.partial, pixels);
    return this.used === this.buffer.length ? this.flush() : this.writing;
  }

  /** Notes a source record that belongs to this shard's range but was not written (a bad image). */
  skip(origin: string, reason: string): void {
    this.skipped.push({ origin, reason });
  }

  private flush(): Promise<void> {
    if (this.used > 0) {
      const chunk = this.buffer.subarray(0, this.used);
      const at = this.position;
      this.position += this.used;
      this.buffer = Buffer.allocUnsafe(this.buffer.length);
      this.used = 0;
      this.writing = this.writing.then(() => writeAll(this.fh, chunk, at));
    }
    return this.writing;
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
      throw err;
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
      const sums = float64ToLE(this.partial.pixelSum);
      const sumFile = `${stem}.sum.f64`;
      await writeFileAtomic(path.join(this.dir, sumFile), sums);
      const { images, pixels, channelSum, crossSum } = this.partial;
      sidecar.stats = { file: sumFile, sha256: createHash("sha256").update(sums).digest("hex"), images, pixels, channelSum, crossSum };
    }
    await writeFileAtomic(path.join(this.dir, `${stem}.json`), JSON.stringify(sidecar));
    await syncDir(this.dir);
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

function readSidecar(file: string): ShardSidecar {
  let sidecar: ShardSidecar;
  try {
    sidecar = JSON.parse(readFileSync(file, "utf8")) as ShardSidecar;
  } catch (err) {
    throw new Error(`${file} cannot be read as a shard sidecar (${(err as Error).message}); ${REDO_HINT}.`);
  }
  const ok =
    sidecar &&
    sidecar.format === "alexnet-shard" &&
    Number.isInteger(sidecar.records) &&
    Array.isArray(sidecar.labels) &&
    Array.isArray(sidecar.origins) &&
    sidecar.labels.length === sidecar.records &&
    sidecar.origins.length === sidecar.records &&
    typeof sidecar.sha256 === "string" &&
    Array.isArray(sidecar.recordShape);
  if (!ok) throw new Error(`${file} is not a valid shard sidecar (format "alexnet-shard", labels and origins for every record); ${REDO_HINT}.`);
  if (sidecar.version > FORMAT_VERSION) throw new Error(`${file} has format version ${sidecar.version}, newer than this code reads (${FORMAT_VERSION}); update the course code.`);
  return sidecar;
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
    throw new Error(`${sidecarPath} holds ${sidecar.recordShape.join("x")} records but this run makes ${shape.join("x")}: ${dir} was prepared with other options; prepare into a new folder, or delete ${dir} to start over.`);
  }
  if (options.preprocessing && canonicalJSON(sidecar.preprocessing) !== canonicalJSON(options.preprocessing)) {
    throw new Error(`${sidecarPath} was made with preprocessing ${canonicalJSON(sidecar.preprocessing)}, but this run uses ${canonicalJSON(options.preprocessing)}; prepare into a new folder, or delete ${dir} to start over.`);
  }
  const bin = path.join(dir, sidecar.file);
  if (sidecar.bytes !== sidecar.records * recordBytes(shape) || fileSize(bin) !== sidecar.bytes) return undefined;
  if (sidecar.stats && fileSize(path.join(dir, sidecar.stats.file)) !== shape[0] * shape[1] * shape[2] * 8) return undefined;
  if (options.verify && (await sha256File(bin)) !== sidecar.sha256) return undefined;
  return { split, index, file: sidecar.file, sidecar: `${stem}.json`, records: sidecar.records, bytes: sidecar.bytes, sha256: sidecar.sha256, hasStats: !!sidecar.stats, skipped: sidecar.skipped ?? [] };
}

// ---------------------------------------------------------------- manifest

function checkManifest(m: Manifest, where: string): void {
  const problems: string[] = [];
  if (m?.format !== "alexnet-dataset") problems.push(`format is ${JSON.stringify(m?.format)}, expected "alexnet-dataset"`);
  if (!Array.isArray(m?.classes) || m.classes.length === 0) problems.push("classes must be a non-empty list");
  if (!Array.isArray(m?.recordShape)) problems.push("recordShape is missing");
  else if (m.recordBytes !== recordBytes(m.recordShape)) problems.push(`recordBytes is ${m.recordBytes}, but recordShape ${m.recordShape.join("x")} needs ${recordBytes(m.recordShape)}`);
  for (const [name, split] of Object.entries(m?.splits ?? {})) {
    if (!SPLIT_NAMES.includes(name as SplitName)) problems.push(`unknown split ${JSON.stringify(name)}`);
    if (!split || !Array.isArray(split.shards)) {
      problems.push(`split ${name} has no shard list`);
      continue;
    }
    const sum = split.shards.reduce((s, e) => s + e.records, 0);
    if (sum !== split.count) problems.push(`split ${name} counts ${split.count} records but its shards hold ${sum}`);
  }
  if (problems.length) throw new Error(`${where} is not a valid dataset manifest: ${problems.join("; ")}.`);
  if (m.version > FORMAT_VERSION) throw new Error(`${where} has format version ${m.version}, newer than this code reads (${FORMAT_VERSION}); update the course code.`);
}

/** Writes manifest.json atomically; its appearance is what marks the dataset complete. */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  checkManifest(manifest, path.join(dir, MANIFEST_FILE));
  await writeFileAtomic(path.join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 1)}\n`);
  await syncDir(dir);
}

export interface DatasetInfo {
  classes: string[];
  classNames?: string[];
  /** Must equal the preprocessing every shard was written with. */
  preprocessing: Record<string, unknown>;
  /** Extra creation facts for the manifest (tool version, command line, ...); `at` is filled in. */
  created?: Record<string, unknown>;
  /** Shards each split must have. Without it, a split's shards must run from 0 to its highest index with no gap. */
  expectedShards?: Partial<Record<SplitName, number>>;
  /** Folders of workers that wrote elsewhere: their finished shards are moved into the dataset folder first. */
  from?: string[];
}

const SIDECAR_NAME = /^(train|val)-(\d{5,})\.json$/;

async function moveFile(from: string, to: string): Promise<void> {
  try {
    await fsp.rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
    const tmp = tempName(to);
    await fsp.copyFile(from, tmp);
    await fsp.rename(tmp, to);
    await fsp.rm(from);
  }
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
      const pixelSum = readLE(path.join(dir, st.file), 8, recordShape[0] * recordShape[1] * recordShape[2]) as Float64Array;
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

/** The contents of stats.json; the mean image itself is in mean.f32. */
interface StatsFile {
  format: "alexnet-stats";
  version: number;
  units: string;
  split: "train";
  shape: ImageShape;
  images: number;
  pixels: number;
  meanImage: { file: string; dtype: "<f4"; shape: ImageShape };
  channelMean: number[];
  covariance: number[][];
  eigenvalues: number[];
  eigenvectors: number[][];
  eigenvectorLayout: string;
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

// ---------------------------------------------------------------- reading

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

/** Open shard files, at most `limit` at a time; a file in use is closed only once its reads end. */
class HandleCache {
  private readonly open = new Map<string, { handle: Promise<FileHandle>; users: number; evicted: boolean }>();
  constructor(private readonly limit: number) {}

  async use<T>(file: string, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    let entry = this.open.get(file);
    if (entry) {
      this.open.delete(file);
      this.open.set(file, entry); // most recently used last
    } else {
      entry = { handle: fsp.open(file, "r"), users: 0, evicted: false };
      entry.handle.catch(() => undefined);
      this.open.set(file, entry);
      this.evict();
    }
    const e = entry;
    e.users++;
    try {
      let fh: FileHandle;
      try {
        fh = await e.handle;
      } catch (err) {
        if (this.open.get(file) === e) this.open.delete(file); // let the next read try to open it again
        throw new Error(`cannot open ${file} (${(err as Error).message}); ${REDO_HINT}.`);
      }
      return await fn(fh);
    } finally {
      e.users--;
      if (e.evicted && e.users === 0) await this.close(e.handle);
    }
  }

  private evict(): void {
    for (const [file, entry] of this.open) {
      if (this.open.size <= this.limit) break;
      this.open.delete(file);
      entry.evicted = true;
      if (entry.users === 0) void this.close(entry.handle);
    }
  }

  private async close(handle: Promise<FileHandle>): Promise<void> {
    try {
      await (await handle).close();
    } catch {
      /* never opened, or already closed */
    }
  }

  async closeAll(): Promise<void> {
    const entries = [...this.open.values()];
    this.open.clear();
    await Promise.all(entries.map((e) => this.close(e.handle)));
  }
}

/** One split of an open dataset: records by index, in batches, or streamed in order. */
export class SplitReader {
  /** Records in the split. */
  readonly length: number;
  private readonly starts: number[] = [];

  constructor(
    private readonly dataset: Dataset,
    readonly name: SplitName,
    readonly info: SplitManifest,
  ) {
    let n = 0;
    for (const s of info.shards) {
      this.starts.push(n);
      n += s.records;
    }
    this.length = n;
  }

  get classCounts(): number[] {
    return this.info.classCounts;
  }

  /** [shard, record within shard] of record i. */
  private locate(i: number): [number, number] {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`record ${i} is outside split ${this.name} of ${this.dataset.dir}, which has ${this.length} records (0..${this.length - 1}).`);
    let lo = 0, hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= i) lo = mid;
      else hi = mid - 1;
    }
    return [lo, i - this.starts[lo]];
  }

  private readRun(shard: number, first: number, count: number): Promise<Uint8Array> {
    const rb = this.dataset.recordBytes;
    return this.dataset.readBytes(this.info.shards[shard].file, count * rb, first * rb);
  }

  private origins(shard: number): string[] {
    return this.dataset.sidecar(this.info.shards[shard].sidecar).origins;
  }

  async readRecord(i: number, options: ReadOptions = {}): Promise<DataRecord> {
    const [shard, j] = this.locate(i);
    const bytes = await this.readRun(shard, j, 1);
    const record: DataRecord = { index: i, label: new DataView(bytes.buffer).getInt32(0, true), pixels: bytes.subarray(4) };
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
    const wanted = indices.map((i, k) => ({ k, at: this.locate(i) })).sort((a, b) => a.at[0] - b.at[0] || a.at[1] - b.at[1]);
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
          labels[m.k] = view.getInt32(off, true);
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
      const [shard, j] = this.locate(i);
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
        const record: DataRecord = { index: index + r, label: view.getInt32(r * rb, true), pixels: bytes.subarray(r * rb + 4, (r + 1) * rb) };
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
    this.info.shards.forEach((s, k) => out.set(this.dataset.sidecar(s.sidecar).labels, this.starts[k]));
    return out;
  }

  origin(i: number): string {
    const [shard, j] = this.locate(i);
    return this.origins(shard)[j];
  }
}

/** A prepared dataset opened for reading; create with openDataset(). */
export class Dataset {
  readonly recordShape: ImageShape;
  readonly recordBytes: number;
  readonly classes: string[];
  private readonly handles = new HandleCache(32);
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
    return this.handles.use(where, (fh) => readExactly(fh, length, position, where));
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
    return readLE(this.statsPaths().mean, 4, h * w * c) as Float32Array;
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

  /** Recomputes the sha256 of every shard and compares it with the manifest. */
  async verify(onFile?: (file: string, done: number, total: number) => void): Promise<VerifyReport> {
    const shards = this.splitNames.flatMap((s) => (this.manifest.splits[s] as SplitManifest).shards);
    const failures: VerifyFailure[] = [];
    let done = 0;
    for (const shard of shards) {
      const file = path.join(this.dir, shard.file);
      const size = fileSize(file);
      if (size === undefined) failures.push({ file, problem: "missing" });
      else if (size !== shard.bytes) failures.push({ file, problem: `${size} bytes, the manifest says ${shard.bytes}` });
      else {
        const sha = await sha256File(file);
        if (sha !== shard.sha256) failures.push({ file, problem: `sha256 ${sha}, the manifest says ${shard.sha256}` });
      }
      onFile?.(file, ++done, shards.length);
    }
    return { checked: shards.length, failures, ...(failures.length ? { fix: `for each damaged shard, ${REDO_HINT}` } : {}) };
  }

  async close(): Promise<void> {
    await this.handles.closeAll();
    this.sidecars.clear();
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
