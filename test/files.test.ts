// lib/files.ts: atomic writes leave the old file or the new one and no
// temporaries; exact reads and little-endian codecs name the file when short.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as fsp from "node:fs/promises";
import path from "node:path";
import { after, test } from "node:test";
import {
  canonicalJSON,
  describeWriteError,
  fileSize,
  float32ToLE,
  float64ToLE,
  moveFile,
  readExactly,
  readLE,
  writeFileAtomic,
  writeFileAtomicSync,
} from "../lib/files";
import { failWrites } from "./helpers/files";
import { tempDir } from "./helpers/notebooks";

const tmp = tempDir("alexnet-files-");
after(() => tmp.cleanup());

test("writeFileAtomicSync and writeFileAtomic replace a file whole, chunks in order, no temporary left", async () => {
  const file = path.join(tmp.dir, "a.json");
  writeFileSync(file, "old");
  writeFileAtomicSync(file, '{"new":1}\n', { mode: 0o600 });
  assert.equal(readFileSync(file, "utf8"), '{"new":1}\n');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  await writeFileAtomic(path.join(tmp.dir, "b.bin"), [Uint8Array.of(1, 2), Uint8Array.of(3)]);
  assert.deepEqual([...readFileSync(path.join(tmp.dir, "b.bin"))], [1, 2, 3]);
  assert.deepEqual(readdirSync(tmp.dir).sort(), ["a.json", "b.bin"]);
  // A write that cannot happen leaves no temporary behind.
  await assert.rejects(writeFileAtomic(path.join(tmp.dir, "missing-folder", "c"), "x"), /ENOENT/);
  assert.throws(() => writeFileAtomicSync(path.join(tmp.dir, "missing-folder", "c"), "x"), /ENOENT/);
  assert.deepEqual(readdirSync(tmp.dir).sort(), ["a.json", "b.bin"]);
});

test("readExactly and readLE refuse a short file, naming it and what to do", async () => {
  const file = path.join(tmp.dir, "values.f32");
  writeFileSync(file, float32ToLE(Float32Array.of(1.5, -2, 3.25)));
  assert.deepEqual([...readLE(file, 4, 3, "redo it")], [1.5, -2, 3.25]);
  assert.throws(() => readLE(file, 4, 4, "redo it"), /values\.f32 is 12 bytes, expected 16 \(4 values of 4 bytes\); redo it\./);
  const f64 = path.join(tmp.dir, "values.f64");
  writeFileSync(f64, float64ToLE(Float64Array.of(Math.PI)));
  assert.deepEqual([...readLE(f64, 8, 1, "")], [Math.PI]);
  const fh = await fsp.open(file, "r");
  try {
    assert.deepEqual([...(await readExactly(fh, 4, 8, file, "redo it"))], [...float32ToLE(Float32Array.of(3.25))]);
    await assert.rejects(
      readExactly(fh, 8, 8, file, "redo it"),
      /values\.f32 ended at byte 12, before the 8 bytes wanted at 8: the file is truncated; redo it\./,
    );
  } finally {
    await fh.close();
  }
});

test("canonicalJSON sorts keys and drops undefined; fileSize and moveFile", async () => {
  assert.equal(canonicalJSON({ b: [2, { d: 1, c: undefined }], a: "x" }), '{"a":"x","b":[2,{"d":1}]}');
  assert.equal(canonicalJSON({ b: 1, a: 2 }), canonicalJSON({ a: 2, b: 1 }));
  const from = path.join(tmp.dir, "from.txt");
  writeFileSync(from, "12345");
  assert.equal(fileSize(from), 5);
  assert.equal(fileSize(path.join(tmp.dir, "none")), undefined);
  await moveFile(from, path.join(tmp.dir, "to.txt"));
  assert.equal(existsSync(from), false);
  assert.equal(readFileSync(path.join(tmp.dir, "to.txt"), "utf8"), "12345");
});

test("a full disk or a permission error names the file, what was kept and what to do; other errors pass as they are", async () => {
  const file = path.join(tmp.dir, "kept.json");
  writeFileSync(file, "before");
  for (const [code, words, fix] of [
    ["ENOSPC", "the disk is full", /free some space there \(df -h /],
    ["EACCES", "permission denied", /check the permissions of /],
  ] as const) {
    let restore = failWrites(code);
    try {
      assert.throws(
        () => writeFileAtomicSync(file, "after"),
        (err: Error & { file?: string }) => {
          assert.equal(err.name, "WriteError");
          assert.equal(err.file, file);
          assert.match(
            err.message,
            new RegExp(
              `^cannot write ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: ${words} \\(${code}\\); the file as it was before is kept`,
            ),
          );
          assert.match(err.message, fix);
          return true;
        },
      );
    } finally {
      restore();
    }
    restore = failWrites(code);
    try {
      await assert.rejects(
        writeFileAtomic(file, "after"),
        (err: Error) => err.name === "WriteError" && err.message.includes(`${words} (${code})`),
      );
    } finally {
      restore();
    }
    assert.equal(readFileSync(file, "utf8"), "before");
    assert.deepEqual(
      readdirSync(tmp.dir).filter((f) => f.includes(".tmp-")),
      [],
      "no temporary is left",
    );
  }
  const other = new Error("something else");
  assert.equal(describeWriteError(other, file, "x"), other);
});

test("on a real full file system (a small tmpfs, where this machine lets the test mount one) the error names the path", async (t) => {
  const mount = path.join(tmp.dir, "small");
  mkdirSync(mount);
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mount]);
  if (mounted.status !== 0) {
    t.skip(
      `cannot mount a tmpfs here (${(mounted.stderr?.toString() || String(mounted.error)).trim()}); the injected error above covers the message`,
    );
    return;
  }
  try {
    const big = path.join(mount, "big.bin");
    await assert.rejects(writeFileAtomic(big, new Uint8Array(256 * 1024)), (err: Error) => {
      assert.equal(err.name, "WriteError");
      assert.match(err.message, new RegExp(`cannot write ${big.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: the disk is full \\(ENOSPC\\)`));
      return true;
    });
    assert.deepEqual(readdirSync(mount), [], "the temporary was removed");
  } finally {
    spawnSync("umount", [mount]);
  }
});
