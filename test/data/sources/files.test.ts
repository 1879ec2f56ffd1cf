import assert from "node:assert/strict";
import { mkdirSync, symlinkSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { compareNames, listFolder, pathKind, readAt, readTextFile } from "../../../lib/data/sources/files";
import { readNameList, readSynsetWords } from "../../../lib/data/sources/names";
import { tempDir } from "../../helpers/notebooks";
import { put } from "../../helpers/sources";

test("pathKind tells files, folders, links and missing paths apart", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = put(dir, "a.txt", "x");
    mkdirSync(path.join(dir, "sub"));
    symlinkSync(path.join(dir, "sub"), path.join(dir, "link"));
    assert.equal(await pathKind(file), "file");
    assert.equal(await pathKind(path.join(dir, "sub")), "folder");
    assert.equal(await pathKind(path.join(dir, "link")), "folder", "a link is followed");
    assert.equal(await pathKind(path.join(dir, "nope")), "missing");
    assert.equal(await pathKind(path.join(file, "under-a-file")), "missing");
  } finally {
    cleanup();
  }
});

test("compareNames sorts by code unit, not by locale", () => {
  assert.deepEqual(["b", "B", "a", "n02", "n01", "_x"].sort(compareNames), ["B", "_x", "a", "b", "n01", "n02"]);
  assert.equal(compareNames("a", "a"), 0);
});

test("listFolder splits folders from files, sorted, hidden entries left out, links followed", async () => {
  const { dir, cleanup } = tempDir();
  try {
    put(dir, "b.txt");
    put(dir, "A.txt");
    put(dir, ".DS_Store");
    put(dir, "zz/x.png");
    put(dir, ".ipynb_checkpoints/y.png");
    mkdirSync(path.join(dir, "cc"));
    symlinkSync(path.join(dir, "zz"), path.join(dir, "linked"));
    symlinkSync(path.join(dir, "b.txt"), path.join(dir, "c.txt"));
    symlinkSync(path.join(dir, "gone"), path.join(dir, "dangling"));
    assert.deepEqual(await listFolder(dir), { folders: ["cc", "linked", "zz"], files: ["A.txt", "b.txt", "c.txt"] });
  } finally {
    cleanup();
  }
});

test("readAt reads a byte range and names the file when it is short", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = put(dir, "bytes.bin", Buffer.from([0, 1, 2, 3, 4, 5, 6, 7]));
    assert.deepEqual([...(await readAt(file, 2, 3))], [2, 3, 4]);
    assert.deepEqual([...(await readAt(file, 0, 0))], []);
    await assert.rejects(readAt(file, 6, 4), (e: Error) => e.message.startsWith(`${file}: file ends at byte 8`));
  } finally {
    cleanup();
  }
});

test("readTextFile strips a BOM and explains a missing file", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = put(dir, "t.txt", "\uFEFFhello");
    assert.equal(await readTextFile(file, "hint"), "hello");
    await assert.rejects(readTextFile(path.join(dir, "no.txt"), "give X"), { message: `${path.join(dir, "no.txt")}: no such file; give X` });
    await assert.rejects(readTextFile(dir, "give X"), { message: `${dir}: not a file; give X` });
  } finally {
    cleanup();
  }
});

test("readSynsetWords reads space- and tab-separated 'id words' lines", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = put(dir, "synset_words.txt", "n01440764 tench, Tinca tinca\r\nn01443537\tgoldfish, Carassius auratus\n\n");
    assert.deepEqual([...(await readSynsetWords(file))], [
      ["n01440764", "tench, Tinca tinca"],
      ["n01443537", "goldfish, Carassius auratus"],
    ]);
    const bad = put(dir, "bad.txt", "n01 fish\nlonely\n");
    await assert.rejects(readSynsetWords(bad), { message: `${bad}:2: expected '<class-id> <words>', got "lonely"` });
    await assert.rejects(readSynsetWords(path.join(dir, "none.txt")), /none\.txt: no such file; --class-names must be/);
  } finally {
    cleanup();
  }
});

test("readNameList keeps label order, drops trailing blanks, refuses a blank in between", async () => {
  const { dir, cleanup } = tempDir();
  try {
    assert.deepEqual(await readNameList(put(dir, "meta.txt", "airplane\nT-shirt/top \nAnkle boot\n\n\n")), ["airplane", "T-shirt/top", "Ankle boot"]);
    const gap = put(dir, "gap.txt", "a\n\nb\n");
    await assert.rejects(readNameList(gap), { message: `${gap}:2: empty class name; the file must have one name per line, in label order` });
    await assert.rejects(readNameList(put(dir, "empty.txt", "\n\n")), /empty\.txt: no class names in it/);
  } finally {
    cleanup();
  }
});
