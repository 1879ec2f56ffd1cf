// writeAugmented's RGB loop as WebAssembly SIMD, for the loader's hot path. V8 runs
// the JavaScript loop at about one float per nanosecond, with a bounds check on each
// of its three typed arrays per value; two lanes of float64 at a time, without the
// checks, it goes about twice as fast (bench/loader.ts records both).
//
// The arithmetic is the JavaScript loop's, step for step, so the batches are
// bit-identical (test/data/augment-wasm.test.ts compares them): each value is
// float64(pixel) - float64(mean) + k in float64, rounded once to float32 to nearest
// even, which is what storing a JavaScript number into a Float32Array does. A
// per-channel mean or no mean is a zero mean image with the channel mean folded into
// k, as writeAugmented folds it: (p - 0) + k equals p + k exactly.
//
// The module is assembled here from its opcodes, with wasm-asm.ts.
import { type CropWindow, checkAugmentArgs } from "./augment";
import type { ImageShape } from "./stats";
import {
  ADD,
  BLOCK,
  ELSE,
  END,
  F32_DEMOTE_F64,
  F32_LOAD,
  F32_STORE,
  F64,
  F64_ADD,
  F64_CONVERT_I32_U,
  F64_PROMOTE_F32,
  F64_SUB,
  GE_U,
  I32,
  I32_LOAD,
  I32_LOAD8_U,
  I32_STORE,
  I64_LOAD,
  I64_STORE,
  IF,
  LOOP,
  MUL,
  DIV_U,
  SUB,
  V128,
  type WasmApi,
  type WasmMemory,
  type WasmModule,
  br,
  brIf,
  compileModule,
  funcType,
  get,
  i32,
  mem,
  moduleBytes,
  set,
  simd,
  simdMem,
  vec,
  wasm,
  V128_STORE,
  shuffle,
  I32X4_EXTEND_LOW_I16X8_U,
  I32X4_EXTEND_HIGH_I16X8_U,
} from "./wasm-asm";

export type { WasmModule } from "./wasm-asm";

const I16X8_LOAD8X8_U = (offset: number) => simdMem(2, 3, offset);
const V128_LOAD64_ZERO = (offset: number) => simdMem(93, 3, offset);
const F64X2_SPLAT = simd(20);
const F64X2_REPLACE_LANE1 = simd(34, 1);
const F32X4_DEMOTE_F64X2_ZERO = simd(94);
const F64X2_PROMOTE_LOW_F32X4 = simd(95);
const F64X2_ADD = simd(240);
const F64X2_SUB = simd(241);
// Signed: the values are bytes, so it is exact, and x64 has one instruction for it (the unsigned form takes several).
const F64X2_CONVERT_LOW_I32X4_S = simd(254);
/** Lanes 2 and 3 of an i32x4 moved to lanes 0 and 1 (of the vector given twice). */
const HIGH_HALF = shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
/** The two float32s of a and the two of b: [a0, a1, b0, b1]. */
const LOW_HALVES = shuffle([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]);

/**
 * row(src, mean, out, n, k0, k1, k2): n values (a multiple of 3, RGB from channel 0)
 * out[i] = f32(f64(src[i]) - f64(mean[i]) + k[i % 3]). Twelve values (four pixels) a
 * turn as three f32x4, then a pixel at a time.
 */
function rowBody(): number[] {
  const [S, M, O, N, K0, K1, K2] = [0, 1, 2, 3, 4, 5, 6];
  const [FAST_END, END_AT, A, B, C, LO, HI, T0, T1, T2] = [7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
  const locals = [
    [2, I32],
    [8, V128],
  ];
  // k for value pairs (0,1), (2,3), ... of a group of twelve: (k0,k1) (k2,k0) (k1,k2), twice.
  const pairK = [A, B, C, A, B, C];
  const splat = (a: number, b: number, into: number) => [...get(a), ...F64X2_SPLAT, ...get(b), ...F64X2_REPLACE_LANE1, ...set(into)];
  const pair = (p: number): number[] => {
    const ints = [T0, T1, T2][p >> 1];
    return [
      ...get(ints),
      ...(p & 1 ? [...get(ints), ...HIGH_HALF] : []),
      ...F64X2_CONVERT_LOW_I32X4_S,
      ...get(M),
      ...V128_LOAD64_ZERO(8 * p),
      ...F64X2_PROMOTE_LOW_F32X4,
      ...F64X2_SUB,
      ...get(pairK[p]),
      ...F64X2_ADD,
      ...F32X4_DEMOTE_F64X2_ZERO,
    ];
  };
  const scalar = (c: number): number[] => [
    ...get(O),
    ...get(S),
    ...mem(I32_LOAD8_U, 0, c),
    F64_CONVERT_I32_U,
    ...get(M),
    ...mem(F32_LOAD, 2, 4 * c),
    F64_PROMOTE_F32,
    F64_SUB,
    ...get([K0, K1, K2][c]),
    F64_ADD,
    F32_DEMOTE_F64,
    ...mem(F32_STORE, 2, 4 * c),
  ];
  const step = (local: number, by: number) => [...get(local), ...i32(by), ADD, ...set(local)];
  const code = [
    ...splat(K0, K1, A),
    ...splat(K2, K0, B),
    ...splat(K1, K2, C),
    ...[...get(O), ...get(N), ...i32(12), DIV_U, ...i32(48), MUL, ADD, ...set(FAST_END)],
    ...[...get(O), ...get(N), ...i32(4), MUL, ADD, ...set(END_AT)],
    ...BLOCK,
    ...LOOP,
    ...[...get(O), ...get(FAST_END), GE_U, ...brIf(1)],
    // Sixteen bytes are read for twelve: the memory layout leaves room after the record.
    ...[...get(S), ...I16X8_LOAD8X8_U(0), ...set(LO), ...get(S), ...I16X8_LOAD8X8_U(8), ...set(HI)],
    ...[...get(LO), ...I32X4_EXTEND_LOW_I16X8_U, ...set(T0)],
    ...[...get(LO), ...I32X4_EXTEND_HIGH_I16X8_U, ...set(T1)],
    ...[...get(HI), ...I32X4_EXTEND_LOW_I16X8_U, ...set(T2)],
    ...[0, 1, 2].flatMap((q) => [...get(O), ...pair(2 * q), ...pair(2 * q + 1), ...LOW_HALVES, ...V128_STORE(16 * q)]),
    ...[...step(S, 12), ...step(M, 48), ...step(O, 48), ...br(0)],
    END,
    END,
    ...BLOCK,
    ...LOOP,
    ...[...get(O), ...get(END_AT), GE_U, ...brIf(1)],
    ...scalar(0),
    ...scalar(1),
    ...scalar(2),
    ...[...step(S, 3), ...step(M, 12), ...step(O, 12), ...br(0)],
    END,
    END,
    END,
  ];
  return [...vec(locals), ...code];
}

/**
 * run(src, mean, out, W, x, y, h, w, flip, k0, k1, k2, scratch): the h x w window at
 * (x, y) of the W-wide record at src, one row() per row; a mirrored row is made in
 * scratch and copied into place a pixel (12 bytes) at a time, last pixel first.
 */
function runBody(): number[] {
  const [SRC, MEAN, OUT, W, X, Y, H, WW, FLIP, K0, K1, K2, SCRATCH] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const [R, PIX, DST, FROM, TO, END_AT] = [13, 14, 15, 16, 17, 18];
  const locals = [[6, I32]];
  const callRow = (into: number[]) => [
    ...[...get(SRC), ...get(PIX), ...i32(3), MUL, ADD],
    ...[...get(MEAN), ...get(PIX), ...i32(12), MUL, ADD],
    ...into,
    ...[...get(WW), ...i32(3), MUL],
    ...[...get(K0), ...get(K1), ...get(K2)],
    0x10,
    0, // call function 0, row
  ];
  const code = [
    ...[...i32(0), ...set(R)],
    ...BLOCK,
    ...LOOP,
    ...[...get(R), ...get(H), GE_U, ...brIf(1)],
    ...[...get(Y), ...get(R), ADD, ...get(W), MUL, ...get(X), ADD, ...set(PIX)],
    ...[...get(OUT), ...get(R), ...get(WW), MUL, ...i32(12), MUL, ADD, ...set(DST)],
    ...get(FLIP),
    ...IF,
    ...callRow(get(SCRATCH)),
    ...[...get(SCRATCH), ...get(WW), ...i32(1), SUB, ...i32(12), MUL, ADD, ...set(FROM)],
    ...[...get(DST), ...set(TO)],
    ...[...get(DST), ...get(WW), ...i32(12), MUL, ADD, ...set(END_AT)],
    ...BLOCK,
    ...LOOP,
    ...[...get(TO), ...get(END_AT), GE_U, ...brIf(1)],
    ...[...get(TO), ...get(FROM), ...mem(I64_LOAD, 2, 0), ...mem(I64_STORE, 2, 0)],
    ...[...get(TO), ...get(FROM), ...mem(I32_LOAD, 2, 8), ...mem(I32_STORE, 2, 8)],
    ...[...get(TO), ...i32(12), ADD, ...set(TO), ...get(FROM), ...i32(12), SUB, ...set(FROM), ...br(0)],
    END,
    END,
    ELSE,
    ...callRow(get(DST)),
    END,
    ...[...get(R), ...i32(1), ADD, ...set(R), ...br(0)],
    END,
    END,
    END,
  ];
  return [...vec(locals), ...code];
}

let compiled: WasmModule | null | undefined;

/** The compiled module, or null where WebAssembly SIMD is missing (then the JavaScript loop runs). */
export function augmentModule(): WasmModule | null {
  if (compiled === undefined) {
    const rowType = funcType([I32, I32, I32, I32, F64, F64, F64]);
    const runType = funcType([I32, I32, I32, I32, I32, I32, I32, I32, I32, F64, F64, F64, I32]);
    compiled = compileModule(moduleBytes([rowType, runType], [{ type: 0, body: rowBody() }, { type: 1, body: runBody() }], { run: 1 }));
  }
  return compiled;
}

const align16 = (n: number) => (n + 15) & ~15;

/**
 * writeAugmented for RGB records, one instance per thread: read a record into
 * `record` (its label's 4 bytes, then H*W*3 pixels, as a shard holds it), then
 * write() its window. Make one with createRgbAugmenter, which gives undefined where
 * the fast path does not apply.
 */
export class RgbAugmenter {
  /** Where the record goes: recordBytes bytes, inside the module's memory. */
  readonly record: Uint8Array;
  private readonly run: (...args: number[]) => void;
  private readonly memory: WasmMemory;
  private readonly at: { scratch: number; src: number; mean: number; out: number };
  private readonly perPixel: boolean;
  private readonly channelMean: Float64Array;
  private readonly k = new Float64Array(3);

  constructor(
    module: WasmModule,
    readonly shape: ImageShape,
    /** Bytes before the pixels in `record` (the label). */
    readonly pixelOffset: number,
    /** Per-pixel (H*W*3) or per-channel (3) mean, or none: fixed for the instance. */
    readonly mean: Float32Array | undefined,
  ) {
    const [H, W, C] = shape;
    if (C !== 3) throw new Error(`RgbAugmenter: records must have 3 channels, got ${C}.`);
    this.perPixel = mean !== undefined && mean.length === H * W * C;
    if (mean !== undefined && !this.perPixel && mean.length !== C) throw new Error(`RgbAugmenter: the mean has ${mean.length} values; give ${H * W * C} (per pixel) or ${C} (per channel).`);
    this.channelMean = Float64Array.from({ length: C }, (_, c) => (mean !== undefined && !this.perPixel ? mean[c] : 0));
    const values = H * W * C;
    // Layout: a mirrored row's scratch, the record (16 spare bytes: row() reads 16 bytes for 12), the mean image, the output.
    const scratch = 0;
    const src = align16(scratch + W * C * 4);
    const meanAt = align16(src + pixelOffset + values + 16);
    const out = align16(meanAt + values * 4);
    const bytes = out + values * 4;
    this.memory = new (wasm as WasmApi).Memory({ initial: Math.ceil(bytes / 65536) });
    this.at = { scratch, src: src + pixelOffset, mean: meanAt, out };
    this.record = new Uint8Array(this.memory.buffer, src, pixelOffset + values);
    if (this.perPixel) new Float32Array(this.memory.buffer, meanAt, values).set(mean as Float32Array);
    const instance = new (wasm as WasmApi).Instance(module, { env: { memory: this.memory } });
    this.run = instance.exports.run as (...args: number[]) => void;
  }

  /** writeAugmented(record, pixelOffset, shape, window, shift, mean, dst, dstOffset), bit for bit. */
  write(window: CropWindow, shift: ArrayLike<number> | undefined, dst: Float32Array, dstOffset: number): void {
    const [, W, C] = this.shape;
    checkAugmentArgs(this.record, this.pixelOffset, this.shape, window, shift, this.mean, dst, dstOffset);
    const k = this.k;
    for (let c = 0; c < C; c++) k[c] = (shift ? shift[c] : 0) - this.channelMean[c];
    const { x, y, height: h, width: w, flip } = window;
    const { scratch, src, mean, out } = this.at;
    this.run(src, mean, out, W, x, y, h, w, flip ? 1 : 0, k[0], k[1], k[2], scratch);
    dst.set(new Float32Array(this.memory.buffer, out, h * w * C), dstOffset);
  }
}

/** An RgbAugmenter for RGB records where WebAssembly SIMD runs, else undefined (use writeAugmented). */
export function createRgbAugmenter(shape: ImageShape, pixelOffset: number, mean: Float32Array | undefined): RgbAugmenter | undefined {
  const module = shape[2] === 3 ? augmentModule() : null;
  return module ? new RgbAugmenter(module, shape, pixelOffset, mean) : undefined;
}
