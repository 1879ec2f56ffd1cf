// Builds tiny dataset files for the source reader tests: CIFAR batches, IDX files, folder trees.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/** Writes `content` at root/rel, creating folders on the way. */
export function put(root: string, rel: string, content: string | Uint8Array = "not really an image"): string {
  const file = path.join(root, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  return file;
}

/** A known pixel value for CIFAR tests: differs by record, channel, row and column. */
export function cifarPixel(record: number, c: number, y: number, x: number): number {
  return (record * 7 + c * 50 + y * 3 + x) % 256;
}

/** CIFAR binary records: label byte(s), then planes R, G, B of 32x32, filled by cifarPixel(seedOf(i), ...). */
export function cifarBatch(labels: number[][], seedOf: (i: number) => number = (i) => i): Buffer {
  const recordBytes = labels[0].length + 3072;
  const buf = Buffer.alloc(labels.length * recordBytes);
  labels.forEach((lab, i) => {
    const base = i * recordBytes;
    lab.forEach((l, k) => (buf[base + k] = l));
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++) buf[base + lab.length + c * 1024 + y * 32 + x] = cifarPixel(seedOf(i), c, y, x);
  });
  return buf;
}

/** Writes a CIFAR-10 batch folder: data_batch_1..5 with `perBatch` records each, test_batch with `test` records; labels are record % 10. */
export function writeCifar10(dir: string, perBatch = 2, test = 3): void {
  let n = 0;
  for (let b = 1; b <= 5; b++) {
    const start = n;
    put(
      dir,
      `data_batch_${b}.bin`,
      cifarBatch(
        Array.from({ length: perBatch }, () => [n++ % 10]),
        (i) => start + i,
      ),
    );
  }
  put(
    dir,
    "test_batch.bin",
    cifarBatch(
      Array.from({ length: test }, (_, i) => [(i + 5) % 10]),
      (i) => 1000 + i,
    ),
  );
}

/** An IDX file of unsigned bytes with the given dimensions. */
export function idxBytes(dims: number[], data: ArrayLike<number>, dtype = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = dtype;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(Array.from(data))]);
}

/** Pixel i of image n of a 3-row, 2-column IDX image set. */
export function idxPixel(n: number, i: number): number {
  return (n * 10 + i) % 256;
}

/** `count` images of 3 rows x 2 columns, pixel values idxPixel(n, i). */
export function idxImages(count: number): Buffer {
  return idxBytes(
    [count, 3, 2],
    Array.from({ length: count * 6 }, (_, k) => idxPixel(Math.floor(k / 6), k % 6)),
  );
}
