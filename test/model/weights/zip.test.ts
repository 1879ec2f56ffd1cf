import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { openZip, readAt, safeNumber } from "../../../lib/model/weights/zip";

const tmp = mkdtempSync(path.join(os.tmpdir(), "alexnet-zip-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

test("readAt reads exactly the bytes asked for, and says how many there were when the file is short", async () => {
  const file = path.join(tmp, "ten.bin");
  writeFileSync(file, Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
  const handle = await open(file, "r");
  try {
    assert.deepEqual([...(await readAt(handle, 3, 4))], [3, 4, 5, 6]);
    await assert.rejects(readAt(handle, 8, 4), { message: "unexpected end of file: wanted 4 bytes at 8, got 2" });
  } finally {
    await handle.close();
  }
});

test("safeNumber keeps 64-bit values up to 2^53 - 1 and refuses larger ones, naming what they were", () => {
  assert.equal(safeNumber(123n, "entry count"), 123);
  assert.equal(safeNumber(BigInt(Number.MAX_SAFE_INTEGER), "entry count"), Number.MAX_SAFE_INTEGER);
  assert.throws(() => safeNumber(2n ** 53n, "central directory offset"), {
    message: "central directory offset 9007199254740992 is too large",
  });
});

test("openZip refuses a file that is not a zip", async () => {
  const file = path.join(tmp, "plain.txt");
  writeFileSync(file, "no zip here, only text that is long enough to hold an end record".repeat(2));
  await assert.rejects(openZip(file), { message: `${file} is not a zip file: no end-of-central-directory record.` });
});
