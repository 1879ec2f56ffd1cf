import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { readZipCheckpoint } from "../../../lib/model/weights/pytorch";
import { parseSafetensorsHeader, readSafetensors } from "../../../lib/model/weights/safetensors";

const FIXTURES = path.join(__dirname, "..", "..", "fixtures", "torch");
const tmp = mkdtempSync(path.join(os.tmpdir(), "alexnet-safetensors-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A .safetensors file from a header object (or raw header text) and data bytes. */
function write(name: string, header: object | string, data: Uint8Array = new Uint8Array(0), headerLength?: number): string {
  const text = Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerLength ?? text.length));
  const file = path.join(tmp, name);
  writeFileSync(file, Buffer.concat([prefix, text, data]));
  return file;
}

test("the fixture holds the same tensors as the .pth saved beside it", async () => {
  const st = await readSafetensors(path.join(FIXTURES, "alexnet-tiny.safetensors"));
  const pth = await readZipCheckpoint(path.join(FIXTURES, "alexnet-tiny.pth"));
  assert.deepEqual([...st.keys()], [...pth.keys()]);
  for (const [k, t] of pth) assert.deepEqual(st.get(k), t, k);
});

test("F16, BF16 and I64 tensors are converted to float32", async () => {
  const data = Buffer.alloc(2 * 2 + 2 + 8);
  data.writeUInt16LE(0x3c00, 0); // 1
  data.writeUInt16LE(0xc100, 2); // -2.5
  data.writeUInt16LE(0x4040, 4); // bfloat16 3
  data.writeBigInt64LE(-7n, 6);
  const file = write(
    "mixed.safetensors",
    {
      __metadata__: { format: "pt" },
      h: { dtype: "F16", shape: [2], data_offsets: [0, 4] },
      b: { dtype: "BF16", shape: [1, 1], data_offsets: [4, 6] },
      i: { dtype: "I64", shape: [], data_offsets: [6, 14] },
    },
    data,
  );
  const sd = await readSafetensors(file);
  assert.deepEqual([...sd.keys()], ["h", "b", "i"]);
  assert.deepEqual([...sd.get("h")!.data], [1, -2.5]);
  assert.deepEqual(sd.get("b"), { dtype: "bfloat16", shape: [1, 1], data: new Float32Array([3]) });
  assert.deepEqual([...sd.get("i")!.data], [-7]);
});

test("bad headers are refused with the reason", async () => {
  await assert.rejects(readSafetensors(write("long.safetensors", "{}", undefined, 1000)), /header length 1000 is larger than the file/);
  await assert.rejects(readSafetensors(write("json.safetensors", "{not json")), /the header is not valid JSON/);
  await assert.rejects(readSafetensors(write("array.safetensors", "[]")), /the header is not a JSON object/);
  const f32 = (offsets: unknown, shape: unknown = [2]) => ({ w: { dtype: "F32", shape, data_offsets: offsets } });
  await assert.rejects(
    readSafetensors(write("size.safetensors", f32([0, 4]), new Uint8Array(8))),
    /tensor w \(F32 \[2\]\) needs 8 bytes but data_offsets \[0, 4\] hold 4/,
  );
  await assert.rejects(
    readSafetensors(write("past.safetensors", f32([0, 8]), new Uint8Array(4))),
    /run past the 4 bytes of data; the file is truncated/,
  );
  await assert.rejects(readSafetensors(write("order.safetensors", f32([8, 0]))), /are not \[begin, end\]/);
  await assert.rejects(
    readSafetensors(write("shape.safetensors", f32([0, 8], [-2]))),
    /shape \[-2\] is not a list of non-negative integers/,
  );
  await assert.rejects(
    readSafetensors(write("dtype.safetensors", { w: { dtype: "C64", shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8))),
    /dtype "C64"/,
  );
  assert.throws(
    () =>
      parseSafetensorsHeader(
        { a: { dtype: "U8", shape: [4], data_offsets: [0, 4] }, b: { dtype: "U8", shape: [4], data_offsets: [2, 6] } },
        6,
      ),
    /tensors a and b overlap/,
  );
  const short = path.join(tmp, "short.safetensors");
  writeFileSync(short, Buffer.from([1, 0, 0]));
  await assert.rejects(readSafetensors(short), /too short to be a safetensors file \(3 bytes\)/);
});
