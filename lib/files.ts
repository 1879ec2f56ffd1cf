// Small file helpers every module that writes or reads binary files shares:
// atomic writes (a synced temporary renamed into place, then the folder synced,
// so a crash leaves the old file or the new one, never half of one), exact
// reads, little-endian codecs and canonical JSON. lib/data's shards, run.json,
// checkpoints, model cards and notebooks all write through here.
import { createHash, randomBytes } from "node:crypto";
import { closeSync, createReadStream, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import * as fsp from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";

/** Write failures that are the machine's state, not a bug: said in words, with the path and what to do. */
const WRITE_FAILURES: Record<string, string> = {
  ENOSPC: "the disk is full",
  EDQUOT: "the disk quota is used up",
  EACCES: "permission denied",
  EPERM: "the operation is not permitted",
  EROFS: "the file system is read-only",
};

/** Writing a file failed for a reason of the machine's (full disk, permissions); the message names the file and what was kept. */
export class WriteError extends Error {
  override name = "WriteError";
  constructor(
    message: string,
    readonly file: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * `err` from writing `file`, restated as a WriteError that names the file, the
 * cause in words, `kept` (what is still intact) and the fix; any other error is
 * returned as it is. ENOSPC from node names no path at all.
 */
export function describeWriteError(err: unknown, file: string, kept: string): unknown {
  // A WriteError from a file inside `file` (a checkpoint's weights) is said again for `file`, with what it keeps.
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const what = code === undefined ? undefined : WRITE_FAILURES[code];
  if (!what) return err;
  const dir = path.dirname(file);
  const fix = code === "ENOSPC" || code === "EDQUOT" ? `free some space there (df -h ${dir})` : `check the permissions of ${dir}`;
  return new WriteError(`cannot write ${file}: ${what} (${code}); ${kept}; ${fix}, then run the same command again.`, file, code as string);
}

const ATOMIC_KEPT = "the file as it was before is kept (the write went to a temporary beside it, now removed)";

/** A temporary name beside `file`, unique to this process and call. */
export function tempName(file: string): string {
  return `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
}

export async function syncDir(dir: string): Promise<void> {
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

/**
 * Writes `file` whole or not at all: a synced temporary beside it, renamed into
 * place, then the folder synced. `data` may come in chunks (model weights).
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array | readonly Uint8Array[]): Promise<void> {
  const tmp = tempName(file);
  try {
    const fh = await fsp.open(tmp, "w");
    try {
      if (typeof data === "string" || data instanceof Uint8Array) await fh.writeFile(data);
      else for (const chunk of data) await fh.write(chunk);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw describeWriteError(err, file, ATOMIC_KEPT);
  }
  await syncDir(path.dirname(file));
}

/** All of `data` at `position` (a write may take less than asked). */
export async function writeAll(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** `length` bytes at `position`, or an error naming the file and `hint` (what to do about a short file). */
export async function readExactly(fh: FileHandle, length: number, position: number, file: string, hint: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(out, done, length - done, position + done);
    if (bytesRead === 0)
      throw new Error(
        `${file} ended at byte ${position + done}, before the ${length} bytes wanted at ${position}: the file is truncated; ${hint}.`,
      );
    done += bytesRead;
  }
  return out;
}

/**
 * Writes a file and fsyncs it, without the temporary name and rename of
 * writeFileAtomic: for files inside a folder that is itself renamed into place
 * once whole (a checkpoint's), where a half-written file is never seen.
 */
export async function writeFileSynced(file: string, data: string | Uint8Array): Promise<void> {
  const handle = await fsp.open(file, "w");
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** JSON with object keys sorted, so equal options compare equal whatever their key order. */
export function canonicalJSON(value: unknown): string {
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

/** Little-endian bytes of the values, whatever the machine's order. */
export function float64ToLE(values: Float64Array): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i], true);
  return out;
}

export function float32ToLE(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return out;
}

/** `count` little-endian floats of `bytesPer` bytes, or an error naming the file and `hint`. */
export function readLE(file: string, bytesPer: 4 | 8, count: number, hint: string): Float64Array | Float32Array {
  const buf = readFileSync(file);
  if (buf.length !== count * bytesPer)
    throw new Error(`${file} is ${buf.length} bytes, expected ${count * bytesPer} (${count} values of ${bytesPer} bytes); ${hint}.`);
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

/** Bytes of `file`, or undefined when it is not there. */
export function fileSize(file: string): number | undefined {
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}

/** Renames, or copies and removes across file systems. */
export async function moveFile(from: string, to: string): Promise<void> {
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

/** The folder's entries made durable (a rename is not, until its folder is synced); best effort where a folder cannot be opened. */
export function syncDirSync(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* best effort */
  }
}

/** writeFileAtomic, synchronously: for small files (run.json, card.json, notebooks). `mode`: the new file's permissions. */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, options: { mode?: number } = {}): void {
  const tmp = tempName(file);
  try {
    const fd = openSync(tmp, "w", options.mode ?? 0o666);
    try {
      const bytes = typeof data === "string" ? Buffer.from(data) : data;
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw describeWriteError(err, file, ATOMIC_KEPT);
  }
  syncDirSync(path.dirname(file));
}
