// The zip container of a PyTorch checkpoint (torch >= 1.6 saves with
// torch.save into a zip): the central directory, zip64 included, and the bytes
// of stored entries, read on demand through one file handle. What the entries
// mean (data.pkl, data/KEY) is pytorch.ts's business; the two binary-read
// helpers here serve its legacy reader too.
import { type FileHandle, open } from "node:fs/promises";

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate, ... */
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/** A zip file's central directory, and its entries' bytes read on demand. */
export interface ZipArchive {
  file: string;
  entries: Map<string, ZipEntry>;
  /** An entry's bytes; only uncompressed (stored) entries, as torch writes them. */
  read(entry: ZipEntry): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Exactly `length` bytes at `position`, or an error saying how many there were. */
export async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await handle.read(buffer, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  if (got < length) throw new Error(`unexpected end of file: wanted ${length} bytes at ${position}, got ${got}`);
  return buffer;
}

/** A 64-bit size or offset as a number, refused past 2^53 rather than rounded. */
export function safeNumber(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what} ${v} is too large`);
  return Number(v);
}

/** Opens a zip file: end of central directory (zip64 when present), then the central directory. */
export async function openZip(file: string): Promise<ZipArchive> {
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
    // The end-of-central-directory record (22 bytes) ends the file, after a comment of up to 65535 bytes.
    const tailLength = Math.min(size, 22 + 65535);
    const tail = await readAt(handle, size - tailLength, tailLength);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50 && i + 22 + tail.readUInt16LE(i + 20) === tail.length) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${file} is not a zip file: no end-of-central-directory record.`);
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      // zip64: a locator just before the EOCD points at the zip64 EOCD record.
      const locator = eocd - 20;
      if (locator < 0 || tail.readUInt32LE(locator) !== 0x07064b50) throw new Error(`${file}: a zip64 archive without its zip64 locator.`);
      const record = await readAt(handle, safeNumber(tail.readBigUInt64LE(locator + 8), "zip64 record offset"), 56);
      if (record.readUInt32LE(0) !== 0x06064b50) throw new Error(`${file}: the zip64 end-of-central-directory record is missing.`);
      count = safeNumber(record.readBigUInt64LE(32), "entry count");
      cdSize = safeNumber(record.readBigUInt64LE(40), "central directory size");
      cdOffset = safeNumber(record.readBigUInt64LE(48), "central directory offset");
    }
    if (cdOffset + cdSize > size) throw new Error(`${file}: the central directory lies past the end of the file; the file is truncated.`);
    const cd = await readAt(handle, cdOffset, cdSize);
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    for (let n = 0; n < count; n++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: central directory entry ${n} is damaged.`);
      const nameLength = cd.readUInt16LE(p + 28);
      const extraLength = cd.readUInt16LE(p + 30);
      const commentLength = cd.readUInt16LE(p + 32);
      const name = cd.toString("utf8", p + 46, p + 46 + nameLength);
      let compressedSize = cd.readUInt32LE(p + 20);
      let entrySize = cd.readUInt32LE(p + 24);
      let localHeaderOffset = cd.readUInt32LE(p + 42);
      // zip64 extra field: the 64-bit values of whichever fields are 0xffffffff, in this order.
      let e = p + 46 + nameLength;
      const extraEnd = e + extraLength;
      while (e + 4 <= extraEnd) {
        const id = cd.readUInt16LE(e);
        const length = cd.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          const next = () => {
            const v = safeNumber(cd.readBigUInt64LE(q), "zip64 field");
            q += 8;
            return v;
          };
          if (entrySize === 0xffffffff) entrySize = next();
          if (compressedSize === 0xffffffff) compressedSize = next();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
        }
        e += 4 + length;
      }
      entries.set(name, { name, method: cd.readUInt16LE(p + 10), compressedSize, size: entrySize, localHeaderOffset });
      p = extraEnd + commentLength;
    }
    return {
      file,
      entries,
      async read(entry: ZipEntry): Promise<Uint8Array> {
        if (entry.method !== 0) {
          throw new Error(
            `${file}: entry ${entry.name} is compressed (method ${entry.method}); torch.save stores entries uncompressed. Was the file re-zipped? Re-save it with torch.save.`,
          );
        }
        const local = await readAt(handle, entry.localHeaderOffset, 30);
        if (local.readUInt32LE(0) !== 0x04034b50) throw new Error(`${file}: the local header of ${entry.name} is damaged.`);
        // The local extra field differs from the central one (torch pads it to align the data).
        const dataStart = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
        if (dataStart + entry.size > size)
          throw new Error(`${file}: entry ${entry.name} runs past the end of the file; the file is truncated.`);
        return readAt(handle, dataStart, entry.size);
      },
      close: () => handle.close(),
    };
  } catch (err) {
    await handle.close();
    throw err;
  }
}
