// Saving and loading a LayersModel as DIR/model.json + DIR/weights.bin, the
// layout tfjs-node's file:// writes, so either side can read the other's files.
// tfjs' own file:// handler comes only with tfjs-node; this one uses node:fs
// and works on every backend (wasm, cpu, tensorflow).
//
// Each file is written to a temporary name and renamed into place, weights
// first: an interrupted save leaves the previous files or complete new ones,
// never a truncated weights.bin (a model.json with weights from another save
// would be caught on load by the byte-count check).
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { writeFileAtomic } from "../files";
// Registers the custom layers (LRN, grouped convolution) so model.json can name them.
import "./layers/index";

export const MODEL_FILE = "model.json";
export const WEIGHTS_FILE = "weights.bin";

/** Writes DIR/model.json and DIR/weights.bin, creating DIR if needed. */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      if (artifacts.modelTopology instanceof ArrayBuffer)
        throw new Error("saveModel saves LayersModels; this model's topology is a binary graph.");
      const data = artifacts.weightData;
      const chunks = data === undefined ? [] : Array.isArray(data) ? data : [data];
      const modelJSON: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
        trainingConfig: artifacts.trainingConfig,
        signature: artifacts.signature,
        userDefinedMetadata: artifacts.userDefinedMetadata,
        modelInitializer: artifacts.modelInitializer,
        initializerSignature: artifacts.initializerSignature,
      };
      await writeFileAtomic(
        path.join(dir, WEIGHTS_FILE),
        chunks.map((c) => new Uint8Array(c)),
      );
      await writeFileAtomic(path.join(dir, MODEL_FILE), JSON.stringify(modelJSON));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

/** Bytes the specs describe, or undefined when a dtype has no fixed size (strings). */
function expectedBytes(specs: readonly tf.io.WeightsManifestEntry[]): number | undefined {
  let total = 0;
  for (const s of specs) {
    const size = DTYPE_BYTES[s.quantization?.dtype ?? s.dtype];
    if (size === undefined) return undefined;
    total += s.shape.reduce((a, b) => a * b, 1) * size;
  }
  return total;
}

function concatenate(buffers: readonly ArrayBuffer[], byteLength: number): ArrayBuffer {
  const out = new Uint8Array(byteLength);
  let offset = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  return out.buffer;
}

/** The artifacts in DIR/model.json and the weight files its manifest lists (also sharded converter output). */
export async function readModelArtifacts(dir: string): Promise<tf.io.ModelArtifacts> {
  const jsonPath = path.join(dir, MODEL_FILE);
  if (!existsSync(jsonPath))
    throw new Error(`loadModel: ${jsonPath} does not exist; save a model there with saveModel(model, "${dir}") first.`);
  let modelJSON: tf.io.ModelJSON;
  try {
    modelJSON = JSON.parse(await readFile(jsonPath, "utf8")) as tf.io.ModelJSON;
  } catch (err) {
    throw new Error(`loadModel: ${jsonPath} is not valid JSON (${(err as Error).message}); save the model again.`);
  }
  if (!modelJSON.modelTopology) throw new Error(`loadModel: ${jsonPath} has no modelTopology; it is not a tfjs model.json.`);
  return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
    const specs: tf.io.WeightsManifestEntry[] = [];
    const buffers: ArrayBuffer[] = [];
    for (const group of manifest) {
      specs.push(...group.weights);
      for (const p of group.paths) {
        const file = path.join(dir, p);
        if (!existsSync(file))
          throw new Error(
            `loadModel: ${file}, listed in ${MODEL_FILE}, does not exist; copy it next to ${MODEL_FILE} or save the model again.`,
          );
        const bytes = await readFile(file);
        // Large files get their own ArrayBuffer; small ones may share Node's pool and need a copy.
        const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
        buffers.push((whole ? bytes.buffer : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) as ArrayBuffer);
      }
    }
    const got = buffers.reduce((a, b) => a + b.byteLength, 0);
    const want = expectedBytes(specs);
    if (want !== undefined && got !== want) {
      throw new Error(
        `loadModel: the weight files in ${dir} hold ${got} bytes but ${MODEL_FILE} describes ${want}; they come from different or interrupted saves. Save the model again.`,
      );
    }
    // One buffer: tfjs 4.22's CompositeArrayBuffer misreads shards when the last is larger than the others.
    return [specs, buffers.length === 1 ? buffers[0] : concatenate(buffers, got)];
  });
}

/** Loads a model saved by saveModel (or by tfjs-node's file://) on the current backend. */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  const artifacts = await readModelArtifacts(dir);
  return tf.loadLayersModel({ load: async () => artifacts });
}
