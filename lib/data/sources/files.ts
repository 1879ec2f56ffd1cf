// File access shared by the source readers: folder listings in a fixed order,
// reads by offset (so no reader holds a whole dataset), and errors that name the file.
import { promises as fs } from "node:fs";
import path from "node:path";

export type PathKind = "file" | "folder" | "missing" | "other";

/** What is at `p`, following symlinks (a dataset folder is often a link to a big disk). */
export async function pathKind(p: string): Promise<PathKind> {
  try {
    const s = await fs.stat(p);
    return s.isDirectory() ? "folder" : s.isFile() ? "file" : "other";
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return "missing";
    throw err;
  }
}

/** Sorts by UTF-16 code units: the same order on every machine and locale (Python's sorted() agrees for ASCII names like ImageNet synsets). */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface FolderListing {
  folders: string[];
  files: string[];
}

/** Names of the visible subfolders and files of `dir`, each sorted; hidden entries (".DS_Store", ".ipynb_checkpoints") are left out. */
export async function listFolder(dir: string): Promise<FolderListing> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const folders: string[] = [];
  const files: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      const kind = await pathKind(path.join(dir, e.name));
      isDir = kind === "folder";
      isFile = kind === "file";
    }
    if (isDir) folders.push(e.name);
    else if (isFile) files.push(e.name);
  }
  return { folders: folders.sort(compareNames), files: files.sort(compareNames) };
}

/** Reads exactly `length` bytes at `offset`; rejects naming the file when it ends early. */
export async function readAt(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await fs.open(file, "r");
  try {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    if (done !== length) {
      throw new Error(`${file}: file ends at byte ${offset + done}, wanted ${length} bytes at offset ${offset}; it is truncated or changed since it was listed`);
    }
    return buf;
  } finally {
    await fh.close();
  }
}

/** Reads a UTF-8 text file without BOM, or throws "<file>: no such file; <hint>". */
export async function readTextFile(file: string, hint: string): Promise<string> {
  const kind = await pathKind(file);
  if (kind === "missing") throw new Error(`${file}: no such file; ${hint}`);
  if (kind !== "file") throw new Error(`${file}: not a file; ${hint}`);
  return (await fs.readFile(file, "utf8")).replace(/^\uFEFF/, "");
}
