import assert from "node:assert/strict";
import { test } from "node:test";
import { type GlobalHandler, PickleError, PickleTruncatedError, RefusedGlobalError, unpickle } from "../../../lib/model/weights/pickle";

/** Bytes from a mix of opcodes (numbers), text (latin1) and byte arrays. */
function bytes(...parts: (number | string | number[] | Uint8Array)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else if (typeof p === "string") out.push(...Buffer.from(p, "latin1"));
    else out.push(...p);
  }
  return Uint8Array.from(out);
}
const u32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
const shortUnicode = (s: string) => bytes(0x8c, Buffer.from(s).length, Buffer.from(s));

test("memo, nested tuples, lists, dicts and scalars", () => {
  const pickle = bytes(
    0x80,
    2, // PROTO 2
    0x95,
    [20, 0, 0, 0, 0, 0, 0, 0], // FRAME
    0x7d,
    0x71,
    0, // EMPTY_DICT, BINPUT 0
    0x28, // MARK
    shortUnicode("pair"),
    0x4b,
    1,
    0x4d,
    [0x34, 0x12],
    0x86,
    0x94, // (1, 0x1234), MEMOIZE -> memo 1
    shortUnicode("again"),
    0x68,
    1, // BINGET 1: the same tuple
    shortUnicode("nested"),
    0x28,
    0x29,
    0x28,
    0x4a,
    u32(-5 >>> 0),
    0x4e,
    0x74,
    0x74, // ((), (-5, None))
    shortUnicode("list"),
    0x5d,
    0x28,
    0x88,
    0x89,
    0x65, // [True, False]
    "X",
    u32(3),
    "\xc3\xa9t",
    0x47,
    [0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18], // "ét": pi (BINFLOAT is big-endian)
    shortUnicode("big"),
    0x8a,
    9,
    [0, 0, 0, 0, 0, 0, 0, 0, 1], // LONG1 2^64
    shortUnicode("neg"),
    0x8a,
    2,
    [0x00, 0xff], // LONG1 -256
    shortUnicode("bytes"),
    0x43,
    2,
    [1, 2], // SHORT_BINBYTES
    0x75, // SETITEMS
    0x2e, // STOP
  );
  const { value, end } = unpickle(pickle, { globals: {} });
  assert.equal(end, pickle.length);
  assert.ok(value instanceof Map);
  const m = value as Map<string, unknown>;
  assert.deepEqual([...m.keys()], ["pair", "again", "nested", "list", "ét", "big", "neg", "bytes"]);
  assert.deepEqual(m.get("pair"), [1, 0x1234]);
  assert.equal(m.get("again"), m.get("pair"), "BINGET returns the memoised object itself");
  assert.ok(Object.isFrozen(m.get("pair")), "tuples are frozen");
  assert.deepEqual(m.get("nested"), [[], [-5, null]]);
  assert.deepEqual(m.get("list"), [true, false]);
  assert.equal(m.get("ét"), Math.PI);
  assert.equal(m.get("big"), 2n ** 64n);
  assert.equal(m.get("neg"), -256);
  assert.deepEqual(m.get("bytes"), Uint8Array.from([1, 2]));
});

test("an allowed global is called with its arguments at REDUCE", () => {
  const calls: unknown[][] = [];
  const pair: GlobalHandler = { call: (args) => (calls.push([...args]), { made: args.length }) };
  const pickle = bytes(0x80, 2, "c", "mod\nPair\n", 0x4b, 7, shortUnicode("x"), 0x86, 0x52, 0x2e);
  const { value } = unpickle(pickle, { globals: { "mod.Pair": pair } });
  assert.deepEqual(calls, [[7, "x"]]);
  assert.deepEqual(value, { made: 2 });
});

test("a global outside the allow-list is refused at its own opcode, before anything runs", () => {
  const called: string[] = [];
  const spy: GlobalHandler = { call: () => called.push("call"), build: () => called.push("build") };
  const persistentLoad = () => called.push("persistentLoad");
  // builtins.eval("print(1)") with GLOBAL, and os.system via STACK_GLOBAL.
  const global = bytes(0x80, 2, "c", "builtins\neval\n", shortUnicode("print(1)"), 0x85, 0x52, 0x2e);
  const stackGlobal = bytes(0x80, 4, shortUnicode("os"), shortUnicode("system"), 0x93, shortUnicode("ls"), 0x85, 0x52, 0x2e);
  for (const [pickle, callable, offset] of [
    [global, "builtins.eval", 2],
    [stackGlobal, "os.system", 14],
  ] as const) {
    assert.throws(
      () =>
        unpickle(pickle, {
          globals: { "mod.Safe": spy },
          persistentLoad,
          source: "x.pth",
          refusalHint: "Save model.state_dict() instead.",
        }),
      (err: unknown) => {
        assert.ok(err instanceof RefusedGlobalError);
        assert.equal(err.callable, callable);
        assert.equal(err.offset, offset);
        assert.match(err.message, new RegExp(`x\\.pth.*${callable.replace(".", "\\.")}.*byte ${offset}.*state_dict`));
        return true;
      },
    );
  }
  assert.deepEqual(called, []);
});

test("BUILD is refused on objects whose handler has no build", () => {
  const pickle = bytes(0x80, 2, "c", "mod\nThing\n", 0x29, 0x52, 0x7d, 0x62, 0x2e);
  assert.throws(() => unpickle(pickle, { globals: { "mod.Thing": { call: () => ({}) } } }), /BUILD .* not supported/);
  let state: unknown;
  unpickle(pickle, { globals: { "mod.Thing": { call: () => ({}), build: (o, s) => ((state = s), o) } } });
  assert.ok(state instanceof Map);
});

test("unknown opcodes are named with their byte and offset", () => {
  // 'I' (text INT, protocol 0) is not among the opcodes torch.save writes.
  assert.throws(
    () => unpickle(bytes(0x80, 2, 0x4e, "I", "1\n", 0x2e), { globals: {} }),
    (err: unknown) => err instanceof PickleError && err.offset === 3 && /opcode 0x49 'I' at byte 3/.test(err.message),
  );
  assert.throws(() => unpickle(bytes(0xff), { globals: {} }), /opcode 0xff at byte 0/);
});

test("the opcodes that build objects without the allow-list, and prototype names, are refused", () => {
  const safe: GlobalHandler = { call: () => ({}) };
  const cases: [string, Uint8Array, RegExp][] = [
    ["INST", bytes(0x80, 2, 0x28, "i", "os\nsystem\n", 0x2e), /opcode 0x69 'i'/],
    ["OBJ", bytes(0x80, 2, 0x28, 0x4e, "o", 0x2e), /opcode 0x6f 'o'/],
    ["EXT1", bytes(0x80, 2, 0x82, 1, 0x2e), /opcode 0x82/],
    ["EXT2", bytes(0x80, 2, 0x83, 1, 0, 0x2e), /opcode 0x83/],
    ["NEWOBJ_EX", bytes(0x80, 4, 0x4e, 0x29, 0x7d, 0x92, 0x2e), /opcode 0x92/],
    ["PERSID", bytes(0x80, 2, "P", "x\n", 0x2e), /opcode 0x50 'P'/],
    ["__proto__", bytes(0x80, 2, "c", "mod\n__proto__\n", 0x2e), /mod\.__proto__/],
    ["constructor", bytes(0x80, 2, "c", "mod\nconstructor\n", 0x2e), /mod\.constructor/],
  ];
  for (const [name, pickle, message] of cases) assert.throws(() => unpickle(pickle, { globals: { "mod.Safe": safe } }), message, name);
});

test("an integer longer than a state dict ever needs is refused before it is decoded", () => {
  const huge = new Uint8Array(8 + (1 << 20));
  huge.set(bytes(0x80, 2, 0x8b, u32(1 << 20)));
  huge[huge.length - 1] = 0x2e;
  const started = performance.now();
  assert.throws(() => unpickle(huge, { globals: {} }), /1048576-byte integer \(LONG4\)/);
  assert.ok(performance.now() - started < 1000);
  assert.throws(() => unpickle(bytes(0x80, 2, 0x8a, 65, new Uint8Array(65), 0x2e), { globals: {} }), /65-byte integer \(LONG1\)/);
  assert.equal(unpickle(bytes(0x80, 2, 0x8a, 8, [0, 0, 0, 0, 0, 0, 0, 0x80], 0x2e), { globals: {} }).value, -(2n ** 63n));
});

test("truncated pickles are reported as such", () => {
  const cases = [
    bytes(0x80, 2, "X", u32(100), "abc"), // string shorter than its length
    bytes(0x80, 2, 0x4e), // no STOP
    bytes(0x80, 2, "c", "builtins"), // GLOBAL without newline
    bytes(0x80, 2, 0x4a, 1, 2), // BININT needs 4 bytes
  ];
  for (const pickle of cases) assert.throws(() => unpickle(pickle, { globals: {} }), PickleTruncatedError);
});

test("malformed pickles fail with a PickleError, not a crash", () => {
  assert.throws(() => unpickle(bytes(0x80, 2, 0x68, 3, 0x2e), { globals: {} }), /memo entry 3/);
  assert.throws(() => unpickle(bytes(0x80, 2, 0x2e), { globals: {} }), /stack underflow/);
  assert.throws(() => unpickle(bytes(0x80, 2, 0x74, 0x2e), { globals: {} }), /no MARK/);
  assert.throws(() => unpickle(bytes(0x80, 2, 0x4e, 0x29, 0x52, 0x2e), { globals: {} }), /only an allowed global can be called/);
  assert.throws(() => unpickle(bytes(0x80, 2, 0x4e, 0x51, 0x2e), { globals: {} }), /persistent ids are not expected/);
});

test("several pickles back to back are read from an offset", () => {
  const two = bytes(0x80, 2, 0x4b, 1, 0x2e, 0x80, 2, 0x4b, 2, 0x2e);
  const first = unpickle(two, { globals: {} });
  assert.deepEqual(first, { value: 1, end: 5 });
  assert.deepEqual(unpickle(two, { globals: {}, offset: first.end }), { value: 2, end: 10 });
});

test("a handler's objection is reported with the source and the opcode's offset", () => {
  const pickle = bytes(0x80, 2, "c", "mod\nStrict\n", 0x29, 0x52, 0x2e);
  const strict: GlobalHandler = {
    call: () => {
      throw new Error("needs one argument");
    },
  };
  assert.throws(
    () => unpickle(pickle, { globals: { "mod.Strict": strict }, source: "f.pth" }),
    (err: unknown) =>
      err instanceof PickleError && err.offset === 15 && /^f\.pth: mod\.Strict: needs one argument \(REDUCE at byte 15\)/.test(err.message),
  );
});
