// Reads IDX files (MNIST, Fashion-MNIST, EMNIST): train-images-idx3-ubyte and
// train-labels-idx1-ubyte, t10k-* (or test-*) for val, each plain or gzipped.
// An IDX file is 0x00 0x00 <dtype> <ndim>, ndim big-endian uint32 sizes, then the data.
// Plain image files are read one image at a time by offset. A gzipped one can't be
// seeked into: it is gunzipped whole on the first load() and kept (47 MB for
// MNIST train); listing reads only its header and its gzip size trailer.
import { promises as fs } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import zlib from "node:zlib";
import type { DataSource, SourceRecord } from "../types";
import { listFolder, pathKind, readAt } from "./files";
import { readNameList } from "./names";

const gunzip = promisify(zlib.gunzip);

export const FASHION_MNIST_CLASS_NAMES: readonly string[] = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

const UBYTE = 0x08;
const DTYPE_NAMES: Record<number, string> = { 0x08: "unsigned byte", 0x09: "signed byte", 0x0b: "short", 0x0c: "int", 0x0d: "float", 0x0e: "double" };
/** Matches e.g. "train-images-idx3-ubyte", "t10k-labels.idx1-ubyte.gz", "emnist-digits-test-images-idx3-ubyte". */
const IDX_NAME = /^(.*?)(train|t10k|test)-(images|labels)[-.]idx([13])-ubyte(\.gz)?$/i;
const EXPECTED = "--source must be the folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may end in .gz)";

export interface IdxHeader {
  dtype: number;
  dims: number[];
  /** Bytes before the data: 4 + 4 * dims.length. */
  headerBytes: number;
}

export interface IdxOptions {
  /** One class name per line, in label order (IDX files carry no names; Fashion-MNIST's are FASHION_MNIST_CLASS_NAMES). */
  classNames?: string;
}

/** Parses an IDX header from the first bytes of a file (at least 4 + 4 * ndim of them). */
export function parseIdxHeader(bytes: Uint8Array, file: string): IdxHeader {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    throw new Error(`${file}: this file is gzip-compressed but its name does not end in .gz; rename it to ${path.basename(file)}.gz or gunzip it`);
  }
  if (bytes.length < 4) throw new Error(`${file}: ${bytes.length} bytes, too short for an IDX header; the file is truncated, download it again`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`${file}: not an IDX file (starts with 0x${hex(bytes[0])} 0x${hex(bytes[1])}, IDX files start with 0x00 0x00)`);
  }
  const dtype = bytes[2];
  const ndim = bytes[3];
  const headerBytes = 4 + 4 * ndim;
  if (ndim === 0 || bytes.length < headerBytes) throw new Error(`${file}: IDX header says ${ndim} dimensions but the file is too short for them; it is truncated or not IDX`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) dims.push(view.getUint32(4 + 4 * d, false));
  return { dtype, dims, headerBytes };
}

/** Opens the IDX files in `dir` (or `dir/raw`, torchvision's layout): train from train-*, val from t10k-* or test-* when present. */
export async function openIdx(dir: string, options: IdxOptions = {}): Promise<DataSource> {
  const kind = await pathKind(dir);
  if (kind === "missing") throw new Error(`${dir}: no such folder; ${EXPECTED}`);
  if (kind !== "folder") throw new Error(`${dir}: not a folder; ${EXPECTED}`);
  let found = await findIdxFiles(dir);
  if (found.size === 0 && (await pathKind(path.join(dir, "raw"))) === "folder") {
    dir = path.join(dir, "raw");
    found = await findIdxFiles(dir);
  }
  if (!found.has("train-images") && !found.has("train-labels")) throw new Error(`${dir}: no IDX training files; ${EXPECTED}`);

  const train = await listSplit(dir, found, "train");
  const val = found.has("val-images") || found.has("val-labels") ? await listSplit(dir, found, "val") : undefined;

  const names = options.classNames !== undefined ? await readNameList(options.classNames) : undefined;
  const maxLabel = Math.max(train.maxLabel, val ? val.maxLabel : -1);
  if (names && names.length <= maxLabel) {
    throw new Error(`${options.classNames}: ${names.length} class names but the labels go up to ${maxLabel}; give one name per line for labels 0..${maxLabel}`);
  }
  const classCount = names ? names.length : maxLabel + 1;
  const source: DataSource = {
    format: "idx",
    classes: Array.from({ length: classCount }, (_, i) => String(i)),
    splits: { train: train.records },
  };
  if (val) source.splits.val = val.records;
  if (names) source.classNames = names;
  return source;
}

type Role = "train-images" | "train-labels" | "val-images" | "val-labels";

/** Role -> file name; plain files win over .gz when both are there (torchvision keeps both). */
async function findIdxFiles(dir: string): Promise<Map<Role, string>> {
  const matches = (await listFolder(dir)).files.flatMap((name) => {
    const m = IDX_NAME.exec(name);
    return m ? [{ name, prefix: m[1], role: `${m[2].toLowerCase() === "train" ? "train" : "val"}-${m[3].toLowerCase()}` as Role, gz: !!m[5] }] : [];
  });
  const prefixes = [...new Set(matches.map((m) => m.prefix))];
  if (prefixes.length > 1) {
    throw new Error(`${dir}: IDX files of ${prefixes.length} datasets (${prefixes.map((p) => `${p}train-images...`).join(", ")}); point --source at a folder holding one set`);
  }
  const found = new Map<Role, string>();
  for (const m of matches) {
    const prev = found.get(m.role);
    if (prev === undefined || (prev.endsWith(".gz") && !m.gz)) found.set(m.role, m.name);
  }
  return found;
}

async function listSplit(dir: string, found: Map<Role, string>, split: "train" | "val"): Promise<{ records: SourceRecord[]; maxLabel: number }> {
  const imagesName = found.get(`${split}-images`);
  const labelsName = found.get(`${split}-labels`);
  const prefix = split === "train" ? "train" : "t10k";
  if (imagesName === undefined) throw new Error(`${dir}: has ${labelsName} but no ${prefix}-images-idx3-ubyte[.gz] to go with it`);
  if (labelsName === undefined) throw new Error(`${dir}: has ${imagesName} but no ${prefix}-labels-idx1-ubyte[.gz] to go with it`);
  const imagesFile = path.join(dir, imagesName);
  const labelsFile = path.join(dir, labelsName);

  const labels = await readLabels(labelsFile);
  const images = await openImages(imagesFile);
  if (images.count !== labels.length) {
    throw new Error(`${imagesFile} has ${images.count} images but ${labelsFile} has ${labels.length} labels; both must come from the same set`);
  }
  let maxLabel = -1;
  const records: SourceRecord[] = [];
  for (let i = 0; i < labels.length; i++) {
    maxLabel = Math.max(maxLabel, labels[i]);
    records.push({ label: labels[i], origin: `${imagesFile}#${i}`, load: () => images.load(i) });
  }
  return { records, maxLabel };
}

/** A labels file is small (60 KB for MNIST): read it whole. */
async function readLabels(file: string): Promise<Uint8Array> {
  const bytes = await readWhole(file);
  const header = parseIdxHeader(bytes, file);
  expectUbyte(header, 1, file, "labels (idx1)");
  const count = header.dims[0];
  checkLength(file, bytes.length, header.headerBytes + count, `${count} labels`);
  return bytes.subarray(header.headerBytes);
}

interface ImageFile {
  count: number;
  load(i: number): Promise<{ kind: "raw"; data: Uint8Array; width: number; height: number; channels: 1 }>;
}

async function openImages(file: string): Promise<ImageFile> {
  const gz = file.toLowerCase().endsWith(".gz");
  const head = gz ? await gunzipHead(file) : await readAt(file, 0, Math.min(1024, (await fs.stat(file)).size));
  const header = parseIdxHeader(head, file);
  expectUbyte(header, 3, file, "images (idx3)");
  const [count, height, width] = header.dims;
  const pixels = height * width;
  const total = header.headerBytes + count * pixels;
  const what = `${count} images of ${height}x${width}`;
  const image = (data: Uint8Array) => ({ kind: "raw" as const, data, width, height, channels: 1 as const });

  if (!gz) {
    checkLength(file, (await fs.stat(file)).size, total, what);
    return { count, load: async (i) => image(await readAt(file, header.headerBytes + i * pixels, pixels)) };
  }
  // The gzip trailer holds the uncompressed size mod 2^32: a cheap truncation check.
  const { size } = await fs.stat(file);
  const isize = size >= 4 ? (await readAt(file, size - 4, 4)).readUInt32LE(0) : -1;
  if (isize !== total % 2 ** 32) {
    throw new Error(`${file}: header says ${what} (${total} bytes) but the gzip data holds ${isize} bytes; the file is truncated or corrupt, download it again`);
  }
  let whole: Promise<Buffer> | undefined;
  return {
    count,
    load: async (i) => {
      whole ??= readWhole(file);
      const data = await whole;
      checkLength(file, data.length, total, what);
      const start = header.headerBytes + i * pixels;
      return image(data.subarray(start, start + pixels));
    },
  };
}

/** The first bytes of a gzipped file, from its first 4 KB: enough for any IDX header without inflating the rest. */
async function gunzipHead(file: string): Promise<Buffer> {
  const { size } = await fs.stat(file);
  const prefix = await readAt(file, 0, Math.min(size, 4096));
  try {
    return zlib.gunzipSync(prefix, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  } catch (err) {
    throw new Error(`${file}: cannot be gunzipped (${(err as Error).message}); the file is corrupt, download it again`);
  }
}

async function readWhole(file: string): Promise<Buffer> {
  const bytes = await fs.readFile(file);
  if (!file.toLowerCase().endsWith(".gz")) return bytes;
  try {
    return await gunzip(bytes);
  } catch (err) {
    throw new Error(`${file}: cannot be gunzipped (${(err as Error).message}); the file is truncated or corrupt, download it again`);
  }
}

function expectUbyte(header: IdxHeader, ndim: number, file: string, what: string): void {
  if (header.dtype !== UBYTE) {
    const name = DTYPE_NAMES[header.dtype] ?? `0x${hex(header.dtype)}`;
    throw new Error(`${file}: IDX data type is ${name}; only unsigned byte (0x08) ${what} are supported`);
  }
  if (header.dims.length !== ndim) throw new Error(`${file}: IDX file has ${header.dims.length} dimensions; ${what} files have ${ndim}`);
}

function checkLength(file: string, actual: number, expected: number, what: string): void {
  if (actual < expected) throw new Error(`${file}: header says ${what} (${expected} bytes) but the data is ${actual} bytes; the file is truncated, download it again`);
  if (actual > expected) throw new Error(`${file}: header says ${what} (${expected} bytes) but the data is ${actual} bytes; ${actual - expected} bytes too many, it is not a plain IDX file`);
}

function hex(b: number | undefined): string {
  return (b ?? 0).toString(16).padStart(2, "0");
}
