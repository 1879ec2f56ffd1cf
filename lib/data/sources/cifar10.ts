// Reads the binary versions of CIFAR-10 (cifar-10-batches-bin/) and CIFAR-100
// (cifar-100-binary/). A record is its label byte(s) then 3072 pixel bytes:
// 1024 R, 1024 G, 1024 B, each a row-major 32x32 plane. Listing reads only the
// label bytes; load() reads one record by its offset.
import { promises as fs } from "node:fs";
import path from "node:path";
import type { DataSource, SourceRecord } from "../types";
import { listFolder, pathKind, readAt } from "./files";
import { readNameList } from "./names";

export const CIFAR10_CLASSES: readonly string[] = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

const SIDE = 32;
const PIXELS = SIDE * SIDE * 3;
/** Records whose labels are read per fs read while listing: about 3 MB at a time. */
const LABEL_CHUNK = 1024;

interface Layout {
  format: string;
  /** The folder the archive unpacks to, accepted inside PATH. */
  folder: string;
  train: string[];
  val: string;
  /** Label bytes before the pixels, and which of them is the label used. */
  labelBytes: number;
  labelAt: number;
  namesFile: string;
  /** Names when the names file is absent; null when there are none to fall back on. */
  defaultNames: readonly string[] | null;
  archive: string;
}

const CIFAR10: Layout = {
  format: "cifar10",
  folder: "cifar-10-batches-bin",
  train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
  val: "test_batch.bin",
  labelBytes: 1,
  labelAt: 0,
  namesFile: "batches.meta.txt",
  defaultNames: CIFAR10_CLASSES,
  archive: "cifar-10-binary.tar.gz",
};

// The fine label (byte 1) of the coarse/fine pair: the 100-class task.
const CIFAR100: Layout = {
  format: "cifar100",
  folder: "cifar-100-binary",
  train: ["train.bin"],
  val: "test.bin",
  labelBytes: 2,
  labelAt: 1,
  namesFile: "fine_label_names.txt",
  defaultNames: null,
  archive: "cifar-100-binary.tar.gz",
};

export interface CifarOptions {
  /** One class name per line, in label order; overrides batches.meta.txt / fine_label_names.txt. */
  classNames?: string;
}

/** Opens cifar-10-batches-bin/ (PATH is that folder or its parent): train = data_batch_1..5.bin, val = test_batch.bin. */
export async function openCifar10(dir: string, options: CifarOptions = {}): Promise<DataSource> {
  return openCifar(CIFAR10, dir, options);
}

/** Opens cifar-100-binary/ (PATH is that folder or its parent): train.bin and test.bin with the 100 fine labels. */
export async function openCifar100(dir: string, options: CifarOptions = {}): Promise<DataSource> {
  return openCifar(CIFAR100, dir, options);
}

/** Planar RGB (1024 R, 1024 G, 1024 B) to row-major interleaved HWC, the order sharp and tfjs expect. */
export function planarToHwc(planar: Uint8Array, side: number = SIDE): Uint8Array {
  const plane = side * side;
  if (planar.length !== plane * 3) throw new Error(`planarToHwc: expected ${plane * 3} bytes for ${side}x${side}x3, got ${planar.length}`);
  const out = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    out[p * 3] = planar[p];
    out[p * 3 + 1] = planar[plane + p];
    out[p * 3 + 2] = planar[2 * plane + p];
  }
  return out;
}

async function openCifar(layout: Layout, given: string, options: CifarOptions): Promise<DataSource> {
  const dir = await batchFolder(layout, given);
  const classes = await classList(layout, dir, options.classNames);
  const recordBytes = layout.labelBytes + PIXELS;
  const train: SourceRecord[] = [];
  for (const name of layout.train) train.push(...(await listBatch(path.join(dir, name), recordBytes, layout.labelAt, classes.length)));
  const val = await listBatch(path.join(dir, layout.val), recordBytes, layout.labelAt, classes.length);
  return { format: layout.format, classes, splits: { train, val } };
}

/** The folder holding the batch files: PATH itself, or PATH/<archive folder>. All batch files must be there. */
async function batchFolder(layout: Layout, given: string): Promise<string> {
  const files = [...layout.train, layout.val];
  const expected = `--source must be the ${layout.folder} folder (from ${layout.archive}) or the folder holding it`;
  const kind = await pathKind(given);
  if (kind === "missing") throw new Error(`${given}: no such folder; ${expected}`);
  if (kind !== "folder") throw new Error(`${given}: not a folder; ${expected}`);

  let dir = given;
  let present = (await listFolder(dir)).files;
  if (!files.some((f) => present.includes(f))) {
    const inner = path.join(given, layout.folder);
    if ((await pathKind(inner)) === "folder") {
      dir = inner;
      present = (await listFolder(dir)).files;
    }
  }
  const missing = files.filter((f) => !present.includes(f));
  if (missing.length === files.length) {
    // The python version unpacks to cifar-10-batches-py with the same names, minus ".bin".
    const python = present.includes(files[0].replace(/\.bin$/, "")) || (await pathKind(path.join(given, "cifar-10-batches-py"))) === "folder";
    const hint = python ? "; this looks like the python version, which is pickled: use the binary version" : "";
    throw new Error(`${given}: no ${layout.format} batch files (${files.join(", ")})${hint}; ${expected}`);
  }
  if (missing.length > 0) throw new Error(`${dir}: missing ${missing.join(", ")}; the download is incomplete, unpack ${layout.archive} again`);
  return dir;
}

async function classList(layout: Layout, dir: string, explicit: string | undefined): Promise<string[]> {
  if (explicit !== undefined) return readNameList(explicit);
  const metaFile = path.join(dir, layout.namesFile);
  if ((await pathKind(metaFile)) === "file") return readNameList(metaFile);
  if (layout.defaultNames) return [...layout.defaultNames];
  throw new Error(`${metaFile}: no such file; it names the classes, give --class-names FILE (one name per line) instead`);
}

/** One batch file's records; reads only the label bytes, a chunk of records at a time. */
async function listBatch(file: string, recordBytes: number, labelAt: number, classCount: number): Promise<SourceRecord[]> {
  const { size } = await fs.stat(file);
  if (size === 0 || size % recordBytes !== 0) {
    throw new Error(
      `${file}: ${size} bytes is not a whole number of ${recordBytes}-byte records (label + 32x32x3 pixels); the file is truncated or not the binary version, unpack it again`,
    );
  }
  const count = size / recordBytes;
  const records: SourceRecord[] = [];
  const fh = await fs.open(file, "r");
  try {
    const chunk = Buffer.alloc(LABEL_CHUNK * recordBytes);
    for (let first = 0; first < count; first += LABEL_CHUNK) {
      const n = Math.min(LABEL_CHUNK, count - first);
      const { bytesRead } = await fh.read(chunk, 0, n * recordBytes, first * recordBytes);
      if (bytesRead !== n * recordBytes) throw new Error(`${file}: short read at record ${first}; the file changed while it was read`);
      for (let i = 0; i < n; i++) {
        const label = chunk[i * recordBytes + labelAt];
        const index = first + i;
        if (label >= classCount) {
          throw new Error(`${file}: record ${index} has label ${label}, but there are ${classCount} classes; the file is not ${recordBytes === 3073 ? "CIFAR-10" : "CIFAR-100"} binary or the class-name list is short`);
        }
        const offset = index * recordBytes;
        records.push({
          label,
          origin: `${file}#${index}`,
          load: async () => {
            const rec = await readAt(file, offset, recordBytes);
            return { kind: "raw", width: SIDE, height: SIDE, channels: 3, data: planarToHwc(rec.subarray(recordBytes - PIXELS)) };
          },
        });
      }
    }
  } finally {
    await fh.close();
  }
  return records;
}
