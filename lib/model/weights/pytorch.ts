// PyTorch checkpoints (torch.save of a state dict) read without Python and
// without running anything from the file: the pickle goes through the
// restricted reader in ./pickle, which knows only the few globals a state dict
// is made of. Two layouts:
//
// - zip (torch >= 1.6): ARCHIVE/data.pkl, the pickle, names each storage by a
//   key; its bytes are the uncompressed entry ARCHIVE/data/KEY. ARCHIVE is the
//   file's stem when it was saved, so data.pkl is found by suffix. The zip
//   container itself is read by ./zip.
// - legacy (_use_new_zipfile_serialization=False): pickles back to back (magic
//   number, protocol version, sys_info, the object, the storage keys), then
//   each storage as an int64 element count and its raw bytes.
//
// Storages are read one at a time through a file handle, so a 244 MB
// checkpoint is held once, as the float32 tensors returned.
import { type FileHandle, open } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type GlobalHandler, PickleGlobal, PickleTruncatedError, unpickle } from "./pickle";
import { openZip, readAt, safeNumber, type ZipEntry } from "./zip";

/** One tensor of a state dict, converted to float32, row-major (C order). */
export interface StateDictTensor {
  /** The dtype in the file: float32, float16, bfloat16, float64, int64... */
  dtype: string;
  shape: number[];
  data: Float32Array;
}

/** Parameter name → tensor, in the file's order. */
export type StateDict = Map<string, StateDictTensor>;

export const ELEMENT_BYTES: Readonly<Record<string, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** Decodes `count` little-endian elements of `dtype` starting at element `first` of `bytes`. */
export function decodeElements(bytes: Uint8Array, dtype: string, first: number, count: number): Float32Array {
  const size = ELEMENT_BYTES[dtype];
  if (size === undefined)
    throw new Error(`tensors of dtype ${dtype} are not supported; the importer reads ${Object.keys(ELEMENT_BYTES).join(", ")}.`);
  const start = first * size;
  if (start + count * size > bytes.byteLength)
    throw new Error(`a ${dtype} tensor needs bytes ${start}..${start + count * size} of a ${bytes.byteLength}-byte storage.`);
  if (dtype === "float32" && os.endianness() === "LE") {
    // A byte copy into a fresh, aligned buffer (a Buffer's slice() would be a view, not a copy).
    const out = new Float32Array(count);
    new Uint8Array(out.buffer).set(bytes.subarray(start, start + count * 4));
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, count * size);
  const out = new Float32Array(count);
  switch (dtype) {
    case "float32":
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case "float16":
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      break;
    case "bfloat16": {
      // bfloat16 is the top half of a float32.
      const f = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < count; i++) {
        f.setUint32(0, view.getUint16(i * 2, true) << 16);
        out[i] = f.getFloat32(0);
      }
      break;
    }
    case "float64":
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    case "int64":
      for (let i = 0; i < count; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      break;
    case "int32":
      for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
      break;
    case "int16":
      for (let i = 0; i < count; i++) out[i] = view.getInt16(i * 2, true);
      break;
    case "int8":
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      break;
    default: // uint8, bool
      for (let i = 0; i < count; i++) out[i] = view.getUint8(i);
  }
  return out;
}

/** IEEE 754 binary16 bits → number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** What a pickled storage stands for: a key into the file's storages. */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: string,
    /** Elements in the storage. */
    readonly numel: number,
    /** Legacy views of a larger storage start this many elements in. */
    readonly elementOffset = 0,
  ) {}
}

/** What _rebuild_tensor_v2 stands for: a strided view of a storage, resolved after the pickle is read. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly storageOffset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

const MAX_ELEMENTS = 2 ** 28;

/** The tensor a TensorRef describes, copied into row-major float32 (strided and offset views materialised). */
export function materialize(ref: TensorRef, storage: Uint8Array, name: string): StateDictTensor {
  const { shape, stride } = ref;
  const dtype = ref.storage.dtype;
  const offset = ref.storage.elementOffset + ref.storageOffset;
  const numel = shape.reduce((a, b) => a * b, 1);
  // A stride of 0 passes the bounds check below, so a few bytes could ask for gigabytes.
  if (numel > MAX_ELEMENTS)
    throw new Error(
      `${name}: shape [${shape}] has ${numel} elements, more than the ${MAX_ELEMENTS} the importer accepts (AlexNet's largest tensor has 37.7 million); the file is damaged or not an AlexNet checkpoint.`,
    );
  const available = storage.byteLength / ELEMENT_BYTES[dtype];
  if (numel > 0) {
    const last = offset + shape.reduce((a, s, i) => a + (s - 1) * stride[i], 0);
    if (offset < 0 || last >= available || shape.some((s, i) => stride[i] < 0)) {
      throw new Error(
        `${name}: shape [${shape}] with stride [${stride}] at offset ${offset} reaches element ${last} of a storage of ${available}; the file is damaged.`,
      );
    }
  }
  const contiguous = isContiguous(shape, stride);
  if (contiguous || numel === 0) return { dtype, shape: [...shape], data: decodeElements(storage, dtype, offset, numel) };
  // Non-contiguous (a transposed or sliced tensor was saved): decode the span it reads, then gather.
  const span = shape.reduce((a, s, i) => a + (s - 1) * stride[i], 0) + 1;
  const source = decodeElements(storage, dtype, offset, span);
  const data = new Float32Array(numel);
  const index = new Array<number>(shape.length).fill(0);
  let at = 0;
  for (let i = 0; i < numel; i++) {
    data[i] = source[at];
    for (let d = shape.length - 1; d >= 0; d--) {
      index[d]++;
      at += stride[d];
      if (index[d] < shape[d]) break;
      at -= shape[d] * stride[d];
      index[d] = 0;
    }
  }
  return { dtype, shape: [...shape], data };
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

const STORAGE_DTYPES: Readonly<Record<string, string>> = {
  FloatStorage: "float32",
  HalfStorage: "float16",
  BFloat16Storage: "bfloat16",
  DoubleStorage: "float64",
  LongStorage: "int64",
  IntStorage: "int32",
  ShortStorage: "int16",
  CharStorage: "int8",
  ByteStorage: "uint8",
  BoolStorage: "bool",
};

const REFUSAL_HINT =
  "This file holds more than a state dict (a whole pickled model, or code to run on load). If you trust it, load it in PyTorch and save model.state_dict() instead: torch.save(model.state_dict(), 'weights.pth').";

function nonNegativeInts(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== "number" || !Number.isInteger(x) || x < 0))
    throw new Error(`${what} must be a tuple of non-negative integers, got ${String(v)}.`);
  return v as number[];
}

function rebuildTensor(args: readonly unknown[]): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw new Error("_rebuild_tensor_v2's first argument is not a storage.");
  if (typeof offset !== "number" || !Number.isInteger(offset) || offset < 0)
    throw new Error("_rebuild_tensor_v2's storage offset is not a non-negative integer.");
  const shape = nonNegativeInts(size, "a tensor's size");
  const strides = nonNegativeInts(stride, "a tensor's stride");
  if (shape.length !== strides.length) throw new Error(`a tensor's size [${shape}] and stride [${strides}] differ in length.`);
  return new TensorRef(storage, offset, shape, strides);
}

/** The callables a state dict's pickle names, as data: nothing here runs code from the file. */
const STATE_DICT_GLOBALS: Record<string, GlobalHandler> = {
  "collections.OrderedDict": {
    call: (args) => new Map(Array.isArray(args[0]) ? (args[0] as [unknown, unknown][]) : []),
    // state_dict()._metadata (per-module versions): not needed to read the weights.
    build: (obj) => obj,
  },
  "torch._utils._rebuild_tensor_v2": { call: rebuildTensor },
  "torch._utils._rebuild_tensor": { call: rebuildTensor },
  // A state dict saved with keep_vars=True holds Parameters: their data is the tensor.
  "torch._utils._rebuild_parameter": { call: (args) => args[0] },
  ...Object.fromEntries(
    Object.keys(STORAGE_DTYPES).map((name) => [
      `torch.${name}`,
      {
        call: () => {
          throw new Error(`torch.${name} may appear only inside a storage's persistent id.`);
        },
      },
    ]),
  ),
};

/** BINPERSID → StorageRef, for both layouts' ('storage', type, key, location, numel[, view]) tuples. */
function storageFromPersistentId(pid: unknown): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5)
    throw new Error(`unexpected persistent id ${JSON.stringify(pid)}; expected ('storage', type, key, location, numel).`);
  const [, type, key, , numel, view] = pid as unknown[];
  const name = type instanceof PickleGlobal ? type.qualifiedName.replace(/^torch\./, "") : "";
  const dtype = STORAGE_DTYPES[name];
  if (!dtype) throw new Error(`storage type ${type instanceof PickleGlobal ? type.qualifiedName : String(type)} is not supported.`);
  if (typeof key !== "string" || typeof numel !== "number")
    throw new Error(`a storage's key or size is malformed in ${JSON.stringify(pid)}.`);
  if (view !== undefined && view !== null) {
    // Legacy storage views: (view key, offset into the root storage, size).
    if (!Array.isArray(view) || typeof view[1] !== "number") throw new Error("a legacy storage view is malformed.");
    return new StorageRef(key, dtype, numel, view[1]);
  }
  return new StorageRef(key, dtype, numel);
}

/** The top-level object must be a dict of tensors (or hold one under "state_dict" or "model"). */
function tensorsOf(value: unknown, file: string): Map<string, TensorRef> {
  const isTensorDict = (v: unknown): v is Map<unknown, unknown> =>
    v instanceof Map && v.size > 0 && [...v.values()].every((t) => t instanceof TensorRef);
  let dict = value;
  if (!isTensorDict(dict) && dict instanceof Map) {
    const inner = ["state_dict", "model"].map((k) => (dict as Map<unknown, unknown>).get(k)).find(isTensorDict);
    if (inner) dict = inner;
  }
  if (!(dict instanceof Map))
    throw new Error(
      `${file} holds a ${Array.isArray(value) ? "list" : typeof value}, not a state dict (a dict of parameter name → tensor).`,
    );
  const out = new Map<string, TensorRef>();
  const other: string[] = [];
  for (const [k, v] of dict) {
    if (typeof k === "string" && v instanceof TensorRef) out.set(k, v);
    else other.push(String(k));
  }
  if (other.length)
    throw new Error(
      `${file} is not a plain state dict: ${other.slice(0, 5).join(", ")}${other.length > 5 ? ` and ${other.length - 5} more` : ""} ${other.length === 1 ? "is not a tensor" : "are not tensors"}.`,
    );
  return out;
}

/** Reads each storage once, in the order given, and materialises the tensors that view it. */
async function resolveTensors(refs: Map<string, TensorRef>, readStorage: (ref: StorageRef) => Promise<Uint8Array>): Promise<StateDict> {
  const byStorage = new Map<string, [string, TensorRef][]>();
  for (const [name, ref] of refs) {
    const list = byStorage.get(ref.storage.key) ?? [];
    list.push([name, ref]);
    byStorage.set(ref.storage.key, list);
  }
  const tensors = new Map<string, StateDictTensor>();
  for (const list of byStorage.values()) {
    const bytes = await readStorage(list[0][1].storage);
    for (const [name, ref] of list) tensors.set(name, materialize(ref, bytes, name));
  }
  // The file's order, not the storages'.
  return new Map([...refs.keys()].map((k) => [k, tensors.get(k) as StateDictTensor]));
}

// ---- zip ------------------------------------------------------------------

/** A torch >= 1.6 checkpoint: ARCHIVE/data.pkl and ARCHIVE/data/KEY. */
export async function readZipCheckpoint(file: string): Promise<StateDict> {
  const zip = await openZip(file);
  try {
    const pickleName = [...zip.entries.keys()].find((n) => n === "data.pkl" || n.endsWith("/data.pkl"));
    if (!pickleName) {
      throw new Error(
        `${file} is a zip file but not a PyTorch checkpoint: it has no data.pkl (entries: ${[...zip.entries.keys()].slice(0, 5).join(", ")}${zip.entries.size > 5 ? ", ..." : ""}).`,
      );
    }
    const prefix = pickleName.slice(0, -"data.pkl".length);
    const byteorder = zip.entries.get(`${prefix}byteorder`);
    if (byteorder) {
      const order = Buffer.from(await zip.read(byteorder))
        .toString("utf8")
        .trim();
      if (order !== "little") throw new Error(`${file} was saved on a ${order}-endian machine; only little-endian checkpoints are read.`);
    }
    const { value } = unpickle(await zip.read(zip.entries.get(pickleName) as ZipEntry), {
      globals: STATE_DICT_GLOBALS,
      persistentLoad: storageFromPersistentId,
      source: `${file} (${pickleName})`,
      refusalHint: REFUSAL_HINT,
    });
    return await resolveTensors(tensorsOf(value, file), async (ref) => {
      const entry = zip.entries.get(`${prefix}data/${ref.key}`);
      if (!entry) throw new Error(`${file}: storage ${ref.key} is missing (no ${prefix}data/${ref.key}).`);
      const need = ref.numel * ELEMENT_BYTES[ref.dtype];
      if (entry.size < need)
        throw new Error(`${file}: storage ${ref.key} has ${entry.size} bytes; its ${ref.numel} ${ref.dtype} elements need ${need}.`);
      return zip.read(entry);
    });
  } finally {
    await zip.close();
  }
}

// ---- legacy -----------------------------------------------------------------

/** torch.serialization.MAGIC_NUMBER, the first pickle of a legacy checkpoint. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** Reads pickles from the head of the file, fetching more bytes while they come out truncated. */
async function readLegacyPickles(handle: FileHandle, size: number, file: string): Promise<{ values: unknown[]; end: number }> {
  let length = Math.min(size, 1 << 16);
  for (;;) {
    const bytes = await readAt(handle, 0, length);
    try {
      const values: unknown[] = [];
      let offset = 0;
      for (let i = 0; i < 5; i++) {
        const r = unpickle(bytes, {
          // Only the object pickle (the 4th) may name torch's globals.
          globals: i === 3 ? STATE_DICT_GLOBALS : {},
          persistentLoad: i === 3 ? storageFromPersistentId : undefined,
          source: `${file} (pickle ${i + 1} of 5, legacy format)`,
          refusalHint: REFUSAL_HINT,
          offset,
        });
        values.push(r.value);
        offset = r.end;
        if (i === 0 && r.value !== LEGACY_MAGIC)
          throw new Error(`${file} starts with a pickle but not torch's magic number; it is not a PyTorch checkpoint.`);
      }
      return { values, end: offset };
    } catch (err) {
      if (!(err instanceof PickleTruncatedError) || length === size) throw err;
      length = Math.min(size, length * 4);
    }
  }
}

/** A checkpoint saved with torch.save(..., _use_new_zipfile_serialization=False). */
export async function readLegacyCheckpoint(file: string): Promise<StateDict> {
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
    const { values, end } = await readLegacyPickles(handle, size, file);
    const [, protocol, sysInfo, object, keys] = values;
    if (protocol !== 1001) throw new Error(`${file}: legacy protocol version ${String(protocol)} is not supported (1001 is).`);
    if (sysInfo instanceof Map && sysInfo.get("little_endian") === false)
      throw new Error(`${file} was saved on a big-endian machine; only little-endian checkpoints are read.`);
    const refs = tensorsOf(object, file);
    if (!Array.isArray(keys) || keys.some((k) => typeof k !== "string")) throw new Error(`${file}: the list of storage keys is malformed.`);
    // Storages follow in the keys' order, each as int64 element count + bytes; their sizes come from the pickle.
    const dtypes = new Map<string, string>();
    for (const ref of refs.values()) dtypes.set(ref.storage.key, ref.storage.dtype);
    const locations = new Map<string, { start: number; bytes: number }>();
    let p = end;
    for (const key of keys as string[]) {
      const count = safeNumber((await readAt(handle, p, 8)).readBigInt64LE(0), "storage size");
      if (count < 0) throw new Error(`${file}: storage ${key} has a negative size (${count}); the file is damaged.`);
      const dtype = dtypes.get(key);
      if (dtype === undefined) throw new Error(`${file}: storage ${key} is stored but no tensor uses it, so its element size is unknown.`);
      const bytes = count * ELEMENT_BYTES[dtype];
      locations.set(key, { start: p + 8, bytes });
      p += 8 + bytes;
      if (p > size) throw new Error(`${file}: storage ${key} runs past the end of the file; the file is truncated.`);
    }
    return await resolveTensors(refs, async (ref) => {
      const at = locations.get(ref.key);
      if (!at) throw new Error(`${file}: storage ${ref.key} is not in the file's list of storages.`);
      return readAt(handle, at.start, at.bytes);
    });
  } finally {
    await handle.close();
  }
}

// ---- either -----------------------------------------------------------------

export type CheckpointFormat = "zip" | "legacy" | "safetensors";

/** Tells the formats apart by their first bytes. */
export async function detectCheckpointFormat(file: string): Promise<CheckpointFormat> {
  const handle = await open(file, "r");
  let head: Buffer;
  try {
    const { size } = await handle.stat();
    head = await readAt(handle, 0, Math.min(size, 16));
  } finally {
    await handle.close();
  }
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) return "zip";
  // PROTO 2, LONG1 of 10 bytes: the start of torch's magic-number pickle.
  if (head.length >= 4 && head[0] === 0x80 && head[2] === 0x8a && head[3] === 0x0a) return "legacy";
  // safetensors: u64 header length, then the JSON header's "{".
  if (head.length >= 9 && head[8] === 0x7b && head.readBigUInt64LE(0) < BigInt(100_000_000)) return "safetensors";
  throw new Error(
    `${path.basename(file)} is neither a PyTorch checkpoint (zip or legacy pickle) nor a safetensors file (it starts with bytes ${head.subarray(0, 8).toString("hex")}).`,
  );
}

/** A PyTorch checkpoint of either layout; refuses anything that is not a state dict. */
export async function readPyTorchCheckpoint(file: string): Promise<StateDict> {
  const format = await detectCheckpointFormat(file);
  if (format === "zip") return readZipCheckpoint(file);
  if (format === "legacy") return readLegacyCheckpoint(file);
  throw new Error(`${file} is a safetensors file; read it with readSafetensors.`);
}
