// A few dozen lines of WebAssembly binary encoding, enough for the small SIMD loops of
// the data path (augment-wasm.ts, stats-wasm.ts): the project has no wasm toolchain in
// its dependencies, and a committed binary would say nothing to a reader.
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

export const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
export const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

export const I32 = 0x7f;
export const F64 = 0x7c;
export const V128 = 0x7b;

// Core opcodes.
export const get = (i: number) => [0x20, ...uleb(i)];
export const set = (i: number) => [0x21, ...uleb(i)];
export const i32 = (v: number) => [0x41, ...sleb(v)];
export const ADD = 0x6a;
export const SUB = 0x6b;
export const MUL = 0x6c;
export const DIV_U = 0x6e;
export const GE_U = 0x4f;
export const BLOCK = [0x02, 0x40];
export const LOOP = [0x03, 0x40];
export const IF = [0x04, 0x40];
export const ELSE = 0x05;
export const END = 0x0b;
export const br = (depth: number) => [0x0c, ...uleb(depth)];
export const brIf = (depth: number) => [0x0d, ...uleb(depth)];
export const mem = (op: number, align: number, offset: number) => [op, align, ...uleb(offset)];
export const I32_LOAD = 0x28;
export const I64_LOAD = 0x29;
export const F32_LOAD = 0x2a;
export const I32_LOAD8_U = 0x2d;
export const I32_STORE = 0x36;
export const I64_STORE = 0x37;
export const F32_STORE = 0x38;
export const F32_DEMOTE_F64 = 0xb6;
export const F64_CONVERT_I32_U = 0xb8;
export const F64_PROMOTE_F32 = 0xbb;
export const F64_ADD = 0xa0;
export const F64_SUB = 0xa1;

// SIMD opcodes: 0xfd, then the number as unsigned LEB128.
export const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
export const simdMem = (op: number, align: number, offset: number) => simd(op, align, ...uleb(offset));

// SIMD instructions both data-path modules use (the rest stay beside their one user).
export const V128_LOAD = (offset: number) => simdMem(0, 4, offset);
export const V128_STORE = (offset: number) => simdMem(11, 4, offset);
/** i8x16.shuffle: byte lanes 0-15 of the first vector, 16-31 of the second. */
export const shuffle = (lanes: number[]) => simd(13, ...lanes);
export const I32X4_EXTEND_LOW_I16X8_U = simd(169);
export const I32X4_EXTEND_HIGH_I16X8_U = simd(170);

/** A module importing env.memory and exporting functions by name; `funcs` are [type, locals+code] in index order. */
export function moduleBytes(types: number[][], funcs: { type: number; body: number[] }[], exported: Record<string, number>): Uint8Array {
  const body = (b: number[]) => [...uleb(b.length), ...b];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(2, vec([[...name("env"), ...name("memory"), 0x02, 0x00, 0x01]])),
    ...section(3, vec(funcs.map((f) => [f.type]))),
    ...section(7, vec(Object.entries(exported).map(([n, index]) => [...name(n), 0x00, index]))),
    ...section(10, vec(funcs.map((f) => body(f.body)))),
  ]);
}

/** A function type: params and results as value types. */
export const funcType = (params: number[], results: number[] = []): number[] => [0x60, ...vec(params.map((p) => [p])), ...vec(results.map((r) => [r]))];

// The few WebAssembly calls used here: the project compiles against ES2022 and Node's
// types, which do not declare the WebAssembly namespace.
/** A compiled module (opaque). */
export interface WasmModule {
  readonly wasmModule?: never;
}
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}
export const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;


/** Compiles `bytes`, or null where WebAssembly or its SIMD is missing (callers fall back to JavaScript). */
export function compileModule(bytes: Uint8Array): WasmModule | null {
  return wasm !== undefined && wasm.validate(bytes) ? new wasm.Module(bytes) : null;
}
