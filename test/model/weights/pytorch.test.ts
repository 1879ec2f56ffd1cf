import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { RefusedGlobalError } from "../../../lib/model/weights/pickle";
import {
  StorageRef,
  TensorRef,
  decodeElements,
  detectCheckpointFormat,
  halfToFloat,
  materialize,
  readLegacyCheckpoint,
  readPyTorchCheckpoint,
  readZipCheckpoint,
} from "../../../lib/model/weights/pytorch";
import { openZip } from "../../../lib/model/weights/zip";

const FIXTURES = path.join(__dirname, "..", "..", "fixtures", "torch");
const fixture = (name: string) => path.join(FIXTURES, name);
const expected = JSON.parse(readFileSync(fixture("expected.json"), "utf8")) as {
  misc: Record<string, { shape: number[]; values: number[] }>;
  evilMarker: string;
  evilCallable: string;
};
const tmp = mkdtempSync(path.join(os.tmpdir(), "alexnet-pytorch-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A zip with the given entries (CRCs left 0: the reader does not check them). */
function makeZip(entries: { name: string; data: Uint8Array; method?: number }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(e.method ?? 0, 8);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(e.method ?? 0, 10);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, Buffer.from(e.data));
    centrals.push(central, name);
    offset += 30 + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

test("zip and legacy checkpoints of the same state dict read identically", async () => {
  const zip = await readZipCheckpoint(fixture("alexnet-tiny.pth"));
  const legacy = await readLegacyCheckpoint(fixture("alexnet-tiny-legacy.pth"));
  assert.equal(zip.size, 16);
  assert.deepEqual([...zip.keys()].slice(0, 3), ["features.0.weight", "features.0.bias", "features.3.weight"]);
  assert.deepEqual(zip.get("features.0.weight")?.shape, [4, 3, 11, 11]);
  assert.deepEqual(zip.get("classifier.1.weight")?.shape, [32, 576]);
  assert.deepEqual([...legacy.keys()], [...zip.keys()]);
  for (const [k, t] of zip) {
    assert.equal(t.dtype, "float32");
    assert.deepEqual(legacy.get(k), t, k);
  }
  assert.equal(await detectCheckpointFormat(fixture("alexnet-tiny.pth")), "zip");
  assert.equal(await detectCheckpointFormat(fixture("alexnet-tiny-legacy.pth")), "legacy");
  assert.equal(await detectCheckpointFormat(fixture("alexnet-tiny.safetensors")), "safetensors");
});

test("half, bfloat16, double and int64 storages, transposed and offset views", async () => {
  const misc = await readPyTorchCheckpoint(fixture("misc.pth"));
  assert.deepEqual([...misc.keys()], Object.keys(expected.misc));
  for (const [name, want] of Object.entries(expected.misc)) {
    const got = misc.get(name);
    assert.ok(got, name);
    assert.deepEqual(got.shape, want.shape, name);
    // float32 holds every value here to within its rounding.
    assert.deepEqual([...got.data], want.values.map(Math.fround), name);
  }
  assert.equal(misc.get("half")?.dtype, "float16");
  assert.equal(misc.get("bfloat16")?.dtype, "bfloat16");
});

test("materialize gathers strided views and refuses views past their storage", () => {
  const storage = new Uint8Array(new Float32Array([0, 1, 2, 3, 4, 5, 6, 7]).buffer);
  const ref = new StorageRef("0", "float32", 8);
  // A 3x2 transpose of the 2x3 matrix at offset 1: [[1,2,3],[4,5,6]]^T.
  const t = materialize(new TensorRef(ref, 1, [3, 2], [1, 3]), storage, "t");
  assert.deepEqual([...t.data], [1, 4, 2, 5, 3, 6]);
  assert.throws(
    () => materialize(new TensorRef(ref, 3, [2, 3], [3, 1]), storage, "w"),
    /w: shape \[2,3\].*reaches element 8 of a storage of 8/,
  );
  // Stride 0 stays inside the storage, but would need a gigabyte: refused by size.
  assert.throws(
    () => materialize(new TensorRef(ref, 0, [16385, 16384], [0, 0]), storage, "z"),
    /z: shape \[16385,16384\] has 268451840 elements, more than/,
  );
});

test("float16 and bfloat16 decoding", () => {
  assert.equal(halfToFloat(0x3c00), 1);
  assert.equal(halfToFloat(0xc000), -2);
  assert.equal(halfToFloat(0x0001), 2 ** -24);
  assert.equal(halfToFloat(0x7c00), Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  const bf = new Uint8Array([0x80, 0x3f, 0xc0, 0xbf]); // 1, -1.5
  assert.deepEqual([...decodeElements(bf, "bfloat16", 0, 2)], [1, -1.5]);
  assert.throws(() => decodeElements(bf, "complex64", 0, 1), /dtype complex64 are not supported/);
});

for (const [file, callable] of [
  ["evil.pth", expected.evilCallable],
  ["evil-legacy.pth", expected.evilCallable],
  ["module.pth", "torch.nn.modules.linear.Linear"],
] as const) {
  test(`${file}: refused at the GLOBAL naming ${callable}, and nothing ran`, async () => {
    rmSync(expected.evilMarker, { force: true });
    await assert.rejects(readPyTorchCheckpoint(fixture(file)), (err: unknown) => {
      assert.ok(err instanceof RefusedGlobalError, String(err));
      assert.equal(err.callable, callable);
      assert.ok(err.message.includes(file), err.message);
      assert.match(err.message, /refused to load.*nothing from the file was run.*state_dict\(\)/s);
      return true;
    });
    // The payload would have run `touch MARKER`.
    assert.equal(existsSync(expected.evilMarker), false);
  });
}

test("evil.pth: the error points at the GLOBAL opcode, before the REDUCE that would call it", async () => {
  const zip = await openZip(fixture("evil.pth"));
  let pickle: Uint8Array;
  try {
    pickle = await zip.read(zip.entries.get("evil/data.pkl")!);
  } finally {
    await zip.close();
  }
  const err = await readPyTorchCheckpoint(fixture("evil.pth")).catch((e: unknown) => e);
  assert.ok(err instanceof RefusedGlobalError);
  assert.equal(String.fromCharCode(pickle[err.offset]), "c", "GLOBAL opcode");
  const [module, name] = expected.evilCallable.split(".");
  assert.equal(Buffer.from(pickle.subarray(err.offset + 1, err.offset + 2 + module.length + name.length)).toString(), `${module}\n${name}`);
  // The only REDUCE that calls it comes after.
  assert.ok(pickle.indexOf(0x52, err.offset) > err.offset);
});

test("zip: compressed entries, a missing data.pkl and truncated files are reported", async () => {
  const deflated = path.join(tmp, "deflated.pth");
  writeFileSync(deflated, makeZip([{ name: "m/data.pkl", data: new Uint8Array([1, 2, 3]), method: 8 }]));
  await assert.rejects(readZipCheckpoint(deflated), /entry m\/data\.pkl is compressed \(method 8\)/);

  const noPickle = path.join(tmp, "nopickle.pth");
  writeFileSync(noPickle, makeZip([{ name: "m/version", data: Buffer.from("3\n") }]));
  await assert.rejects(readZipCheckpoint(noPickle), /has no data\.pkl \(entries: m\/version\)/);

  const whole = readFileSync(fixture("alexnet-tiny.pth"));
  const cut = path.join(tmp, "cut.pth");
  writeFileSync(cut, whole.subarray(0, whole.length >> 1));
  await assert.rejects(readZipCheckpoint(cut), /no end-of-central-directory record/);

  // Entries a hand-made zip stores are read back by offset.
  const ok = path.join(tmp, "ok.zip");
  writeFileSync(
    ok,
    makeZip([
      { name: "a", data: Buffer.from("hello") },
      { name: "b/c", data: Buffer.from("world!") },
    ]),
  );
  const zip = await openZip(ok);
  try {
    assert.equal(Buffer.from(await zip.read(zip.entries.get("b/c")!)).toString(), "world!");
    assert.equal(Buffer.from(await zip.read(zip.entries.get("a")!)).toString(), "hello");
  } finally {
    await zip.close();
  }
});

test("files that are no checkpoint are named as such", async () => {
  const text = path.join(tmp, "notes.pth");
  writeFileSync(text, "just some text, not a checkpoint");
  await assert.rejects(detectCheckpointFormat(text), /notes\.pth is neither a PyTorch checkpoint .* nor a safetensors file/);
});
