import assert from "node:assert/strict";
import { test } from "node:test";
import { ADD, END, I32, type WasmApi, compileModule, funcType, get, moduleBytes, sleb, uleb, wasm } from "../../lib/data/wasm-asm";

test("LEB128 encodes as the WebAssembly spec's examples", () => {
  assert.deepEqual(uleb(0), [0]);
  assert.deepEqual(uleb(127), [0x7f]);
  assert.deepEqual(uleb(128), [0x80, 0x01]);
  assert.deepEqual(uleb(624485), [0xe5, 0x8e, 0x26]);
  assert.deepEqual(sleb(-1), [0x7f]);
  assert.deepEqual(sleb(63), [0x3f]);
  assert.deepEqual(sleb(64), [0xc0, 0x00]);
  assert.deepEqual(sleb(-123456), [0xc0, 0xbb, 0x78]);
});

test("moduleBytes makes a module that validates, imports env.memory and runs its export", () => {
  const add = [0, ...get(0), ...get(1), ADD, END]; // no locals; a + b
  const module = compileModule(moduleBytes([funcType([I32, I32], [I32])], [{ type: 0, body: add }], { add: 0 }));
  assert.ok(module);
  const api = wasm as WasmApi;
  const instance = new api.Instance(module, { env: { memory: new api.Memory({ initial: 1 }) } });
  assert.equal((instance.exports.add as (a: number, b: number) => number)(40, 2), 42);
  assert.equal(compileModule(Uint8Array.from([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0])), null, "a wrong version does not validate");
});
