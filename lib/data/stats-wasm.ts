// stats.ts's accumulate for RGB images, as WebAssembly SIMD: prepare runs it on its
// main thread for every training image, where the JavaScript loops took about as
// long as the sha256 and the shard copy together, ten times over.
//
// The sums are the same integers, so the statistics are byte-identical: per-pixel
// sums gather in uint32 lanes (255 * 2^24 < 2^32, and they are flushed into the
// float64 pixelSum before that many images), channel and cross sums of each block of
// 8192 pixels in uint32 lanes (16-bit products, at most 2 * 2 * 65025 per lane per
// 16 pixels), then added into the float64 totals, exact below 2^53 whatever the order.
import { type PartialStats, checkImageShape } from "./stats";
import {
  ADD,
  BLOCK,
  END,
  GE_U,
  I32,
  LOOP,
  MUL,
  V128,
  type WasmApi,
  type WasmModule,
  br,
  brIf,
  compileModule,
  funcType,
  get,
  i32,
  moduleBytes,
  set,
  simd,
  vec,
  wasm,
  V128_LOAD,
  V128_STORE,
  shuffle,
  I32X4_EXTEND_LOW_I16X8_U,
  I32X4_EXTEND_HIGH_I16X8_U,
} from "./wasm-asm";

const I16X8_EXTEND_LOW_U8 = simd(137);
const I16X8_EXTEND_HIGH_U8 = simd(138);
const I32X4_EXTADD_PAIRWISE_U16 = simd(127);
const I16X8_MUL = simd(149);
const I32X4_ADD = simd(174);

/** sums(pix, n, sums): uint32 sums[i] += pix[i] for i < n, n a multiple of 16. */
function sumsBody(): number[] {
  const [PIX, N, SUMS, END_AT, A, B] = [0, 1, 2, 3, 4, 5];
  const quarter = (source: number, extend: number[], offset: number) => [
    ...get(SUMS),
    ...get(SUMS),
    ...V128_LOAD(offset),
    ...get(source),
    ...extend,
    ...I32X4_ADD,
    ...V128_STORE(offset),
  ];
  return [
    ...vec([
      [1, I32],
      [2, V128],
    ]),
    ...[...get(PIX), ...get(N), ADD, ...set(END_AT)],
    ...BLOCK,
    ...LOOP,
    ...[...get(PIX), ...get(END_AT), GE_U, ...brIf(1)],
    ...[...get(PIX), ...V128_LOAD(0), ...set(B), ...get(B), ...I16X8_EXTEND_LOW_U8, ...set(A), ...get(B), ...I16X8_EXTEND_HIGH_U8, ...set(B)],
    ...quarter(A, I32X4_EXTEND_LOW_I16X8_U, 0),
    ...quarter(A, I32X4_EXTEND_HIGH_I16X8_U, 16),
    ...quarter(B, I32X4_EXTEND_LOW_I16X8_U, 32),
    ...quarter(B, I32X4_EXTEND_HIGH_I16X8_U, 48),
    ...[...get(PIX), ...i32(16), ADD, ...set(PIX), ...get(SUMS), ...i32(64), ADD, ...set(SUMS), ...br(0)],
    END,
    END,
    END,
  ];
}

// Byte lanes that gather one channel of 16 RGB pixels (48 bytes in three vectors):
// first from the first two vectors, then the rest from the third.
const FIRST_TWO = [
  [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 0, 0, 0, 0, 0],
  [1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31, 0, 0, 0, 0, 0],
  [2, 5, 8, 11, 14, 17, 20, 23, 26, 29, 0, 0, 0, 0, 0, 0],
];
const WITH_THIRD = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 17, 20, 23, 26, 29],
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 18, 21, 24, 27, 30],
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 19, 22, 25, 28, 31],
];
/** Accumulators in order: r, g, b, rr, rg, rb, gg, gb, bb. */
const PRODUCTS: [number, number][] = [
  [0, 0],
  [0, 1],
  [0, 2],
  [1, 1],
  [1, 2],
  [2, 2],
];

/** cross(pix, pixels, out): channel and cross sums of `pixels` RGB pixels (a multiple of 16) as nine uint32x4 at out. */
function crossBody(): number[] {
  const [PIX, PIXELS, OUT, END_AT] = [0, 1, 2, 3];
  const [V0, V1, V2] = [4, 5, 6];
  const CH = [7, 8, 9, 10, 11, 12]; // r low, r high, g low, g high, b low, b high (uint16 lanes)
  const ACC = [13, 14, 15, 16, 17, 18, 19, 20, 21];
  const accumulate = (acc: number, value: number[]) => [...get(acc), ...value, ...I32X4_EXTADD_PAIRWISE_U16, ...I32X4_ADD, ...set(acc)];
  const channel = (c: number) => [
    ...[...get(V0), ...get(V1), ...shuffle(FIRST_TWO[c]), ...get(V2), ...shuffle(WITH_THIRD[c])],
    ...[...set(CH[2 * c]), ...get(CH[2 * c]), ...I16X8_EXTEND_HIGH_U8, ...set(CH[2 * c + 1])],
    ...[...get(CH[2 * c]), ...I16X8_EXTEND_LOW_U8, ...set(CH[2 * c])],
  ];
  return [
    ...vec([
      [1, I32],
      [18, V128],
    ]),
    ...[...get(PIX), ...get(PIXELS), ...i32(3), MUL, ADD, ...set(END_AT)],
    ...BLOCK,
    ...LOOP,
    ...[...get(PIX), ...get(END_AT), GE_U, ...brIf(1)],
    ...[...get(PIX), ...V128_LOAD(0), ...set(V0), ...get(PIX), ...V128_LOAD(16), ...set(V1), ...get(PIX), ...V128_LOAD(32), ...set(V2)],
    ...channel(0),
    ...channel(1),
    ...channel(2),
    ...[0, 1, 2].flatMap((c) => [...accumulate(ACC[c], get(CH[2 * c])), ...accumulate(ACC[c], get(CH[2 * c + 1]))]),
    ...PRODUCTS.flatMap(([a, b], k) =>
      [0, 1].flatMap((half) => accumulate(ACC[3 + k], [...get(CH[2 * a + half]), ...get(CH[2 * b + half]), ...I16X8_MUL])),
    ),
    ...[...get(PIX), ...i32(48), ADD, ...set(PIX), ...br(0)],
    END,
    END,
    ...ACC.flatMap((acc, k) => [...get(OUT), ...get(acc), ...V128_STORE(16 * k)]),
    END,
  ];
}

let compiled: WasmModule | null | undefined;

function statsModule(): WasmModule | null {
  if (compiled === undefined) {
    const type = funcType([I32, I32, I32]);
    compiled = compileModule(
      moduleBytes(
        [type],
        [
          { type: 0, body: sumsBody() },
          { type: 0, body: crossBody() },
        ],
        { sums: 0, cross: 1 },
      ),
    );
  }
  return compiled;
}

/** Pixels per call of cross(): each uint32 lane gains at most 260,100 per 16 pixels, so 8192 stay far below 2^32. */
const BLOCK_PIXELS = 8192;
/** Images between flushes of the uint32 per-pixel sums: 255 * 2^24 < 2^32. */
const FLUSH_IMAGES = 2 ** 24;

/**
 * Accumulates RGB images into a PartialStats, as accumulate() does, with the
 * per-pixel sums held in the module until flush(): call flush() before reading
 * stats.pixelSum. Make one with createRgbStats.
 */
export class RgbStats {
  private readonly memory: { buffer: ArrayBuffer };
  private readonly exports: { sums: (pix: number, n: number, sums: number) => void; cross: (pix: number, pixels: number, out: number) => void };
  private readonly values: number;
  private readonly at: { pix: number; sums: number; out: number };
  private pending = 0;

  constructor(module: WasmModule, shape: readonly number[]) {
    const [h, w, c] = checkImageShape(shape);
    if (c !== 3 || (h * w) % 16 !== 0) throw new Error(`RgbStats: needs RGB images with a multiple of 16 pixels, got ${h}x${w}x${c}.`);
    this.values = h * w * c;
    this.at = { pix: 0, sums: this.values, out: this.values * 5 };
    const api = wasm as WasmApi;
    this.memory = new api.Memory({ initial: Math.ceil((this.values * 5 + 9 * 16) / 65536) });
    this.exports = new api.Instance(module, { env: { memory: this.memory } }).exports as RgbStats["exports"];
  }

  add(stats: PartialStats, pixels: Uint8Array): void {
    const [h, w] = stats.shape;
    if (pixels.length !== this.values || stats.pixelSum.length !== this.values) {
      throw new Error(`accumulate: image has ${pixels.length} values, expected ${stats.shape.join("x")} = ${this.values}.`);
    }
    const { pix, sums, out } = this.at;
    new Uint8Array(this.memory.buffer, pix, this.values).set(pixels);
    this.exports.sums(pix, this.values, sums);
    const lanes = new Uint32Array(this.memory.buffer, out, 36);
    const totals = new Array<number>(9).fill(0);
    for (let start = 0; start < h * w; start += BLOCK_PIXELS) {
      this.exports.cross(pix + 3 * start, Math.min(BLOCK_PIXELS, h * w - start), out);
      for (let k = 0; k < 9; k++) totals[k] += lanes[4 * k] + lanes[4 * k + 1] + lanes[4 * k + 2] + lanes[4 * k + 3];
    }
    const [r, g, b, rr, rg, rb, gg, gb, bb] = totals;
    const cs = stats.channelSum;
    const xs = stats.crossSum;
    cs[0] += r;
    cs[1] += g;
    cs[2] += b;
    xs[0] += rr;
    xs[1] += rg;
    xs[2] += rb;
    xs[3] += rg;
    xs[4] += gg;
    xs[5] += gb;
    xs[6] += rb;
    xs[7] += gb;
    xs[8] += bb;
    stats.images += 1;
    stats.pixels += h * w;
    if (++this.pending === FLUSH_IMAGES) this.flush(stats);
  }

  /** Adds the per-pixel sums held so far into stats.pixelSum. */
  flush(stats: PartialStats): void {
    const held = new Uint32Array(this.memory.buffer, this.at.sums, this.values);
    const sum = stats.pixelSum;
    for (let i = 0; i < held.length; i++) sum[i] += held[i];
    held.fill(0);
    this.pending = 0;
  }
}

/** An RgbStats for `shape` where WebAssembly SIMD runs and the shape suits it (RGB, pixels a multiple of 16), else undefined. */
export function createRgbStats(shape: readonly number[]): RgbStats | undefined {
  const [h, w, c] = checkImageShape(shape);
  const module = c === 3 && (h * w) % 16 === 0 ? statsModule() : null;
  return module ? new RgbStats(module, shape) : undefined;
}
