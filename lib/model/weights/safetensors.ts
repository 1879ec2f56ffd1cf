// safetensors (huggingface.co/docs/safetensors): an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]},
// __metadata__?}, then the tensors' bytes, offsets counted from the end of the
// header. No code in it at all, which is why it exists. Every offset and size
// is checked against the header and the file before anything is read.
import { open } from "node:fs/promises";
import { ELEMENT_BYTES, type StateDict, type StateDictTensor, decodeElements } from "./pytorch";

const DTYPES: Readonly<Record<string, string>> = {
  F32: "float32",
  F16: "float16",
  BF16: "bfloat16",
  F64: "float64",
  I64: "int64",
  I32: "int32",
  I16: "int16",
  I8: "int8",
  U8: "uint8",
  BOOL: "bool",
};

/** Larger headers are refused (the reference implementation's limit). */
const MAX_HEADER_BYTES = 100_000_000;

interface HeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** Validates a parsed header against the size of the data that follows it. */
export function parseSafetensorsHeader(
  header: unknown,
  dataBytes: number,
  file = "safetensors file",
): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  if (header === null || typeof header !== "object" || Array.isArray(header)) throw new Error(`${file}: the header is not a JSON object.`);
  const entries: HeaderEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = value as Record<string, string>;
      continue;
    }
    const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    const dtype = typeof v?.dtype === "string" ? DTYPES[v.dtype] : undefined;
    if (!dtype)
      throw new Error(`${file}: tensor ${name} has dtype ${JSON.stringify(v?.dtype)}; supported: ${Object.keys(DTYPES).join(", ")}.`);
    const shape = v?.shape;
    if (!Array.isArray(shape) || shape.some((s) => !Number.isSafeInteger(s) || s < 0))
      throw new Error(`${file}: tensor ${name}'s shape ${JSON.stringify(shape)} is not a list of non-negative integers.`);
    const offsets = v?.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      offsets.some((o) => !Number.isSafeInteger(o) || o < 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new Error(`${file}: tensor ${name}'s data_offsets ${JSON.stringify(offsets)} are not [begin, end] with 0 <= begin <= end.`);
    }
    const [begin, end] = offsets as [number, number];
    const want = (shape as number[]).reduce((a, b) => a * b, 1) * ELEMENT_BYTES[dtype];
    if (end - begin !== want)
      throw new Error(
        `${file}: tensor ${name} (${v?.dtype} [${shape}]) needs ${want} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}.`,
      );
    if (end > dataBytes)
      throw new Error(
        `${file}: tensor ${name}'s data_offsets [${begin}, ${end}] run past the ${dataBytes} bytes of data; the file is truncated.`,
      );
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) throw new Error(`${file}: tensors ${sorted[i - 1].name} and ${sorted[i].name} overlap.`);
  }
  return { entries, metadata };
}

/** Reads a .safetensors file into float32 tensors, in the header's order. */
export async function readSafetensors(file: string): Promise<StateDict> {
  const handle = await open(file, "r");
  try {
    const { size } = await handle.stat();
    if (size < 8) throw new Error(`${file} is too short to be a safetensors file (${size} bytes).`);
    const prefix = Buffer.alloc(8);
    await handle.read(prefix, 0, 8, 0);
    const headerBytes = prefix.readBigUInt64LE(0);
    if (headerBytes > BigInt(Math.min(MAX_HEADER_BYTES, size - 8))) {
      throw new Error(
        `${file}: the header length ${headerBytes} is larger than the file (${size} bytes); it is not a safetensors file, or it is truncated.`,
      );
    }
    const headerLength = Number(headerBytes);
    const text = Buffer.alloc(headerLength);
    await handle.read(text, 0, headerLength, 8);
    let header: unknown;
    try {
      header = JSON.parse(text.toString("utf8"));
    } catch (err) {
      throw new Error(`${file}: the header is not valid JSON (${(err as Error).message}).`);
    }
    const dataStart = 8 + headerLength;
    const { entries } = parseSafetensorsHeader(header, size - dataStart, file);
    const out: StateDict = new Map();
    for (const e of entries) {
      const bytes = Buffer.alloc(e.end - e.begin);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, dataStart + e.begin);
      if (bytesRead !== bytes.length) throw new Error(`${file}: tensor ${e.name} could not be read in full; the file is truncated.`);
      const numel = e.shape.reduce((a, b) => a * b, 1);
      const tensor: StateDictTensor = { dtype: e.dtype, shape: e.shape, data: decodeElements(bytes, e.dtype, 0, numel) };
      out.set(e.name, tensor);
    }
    return out;
  } finally {
    await handle.close();
  }
}
