// What a folder holds as a trained network, read from its JSON files alone (no
// weights loaded): a training run (its best checkpoint, or its newest), one
// checkpoint folder of a run, or a model folder with card.json (an imported
// torchvision AlexNet). `train --init`, `eval`, `predict` and notebook 09/10
// all start here, so the three kinds are told apart in one place.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { MANIFEST_FILE } from "../data/shard-format";
import { ALEXNET_VARIANTS, type AlexNetOptions, type AlexNetVariant, HEAD_LAYER } from "../model/alexnet";
import { CARD_FILE, type InputNormalization, type ModelCard, readCard } from "../model/card";
import { MODEL_FILE } from "../model/io";
import {
  CHECKPOINTS_DIR,
  INTERRUPTED_DIR,
  RUN_CONFIG_FILE,
  type RunConfig,
  bestCheckpoint,
  isCheckpointFolder,
  isRunFolder,
  latestCheckpoint,
} from "./run";

/** A trained network on disk, read without loading any weights. */
export interface TrainedInfo {
  /** The folder as given (absolute). */
  dir: string;
  /** "model": a model folder with card.json; "run": a training run (or one of its checkpoints). */
  kind: "model" | "run";
  /** The run folder (kind "run"); its settings are `config`. */
  runDir?: string;
  config?: RunConfig;
  /** The card (kind "model"). */
  card?: ModelCard;
  /** The folder model.json and weights.bin are read from: dir itself, or the run's checkpoint. */
  modelDir: string;
  variant: AlexNetVariant;
  /** The options the network was built with, numClasses and inputSize included. */
  modelOptions: AlexNetOptions;
  /** Names of the outputs, when known (a card; a run whose dataset is still there). */
  classes?: string[];
  /**
   * Per-channel normalisation the weights expect: (pixel - mean[c]) * scale[c] on
   * pixels without mean subtraction. A model card's; a run's if it started from one.
   * Without it the weights expect the loader's mean-image subtraction.
   */
  input?: InputNormalization;
  /** The factor applied after that (a run's inputScale; 1 for a card). */
  inputScale: number;
  /** Where the weights came from, for the reader. */
  source: string;
}

/**
 * Who asks, for the wording of errors: "init" (train --init, errors start "init:"),
 * "eval" (alexnet eval and predict, notebook 09).
 */
export type TrainedRole = "init" | "eval";

export interface DescribeOptions {
  role?: TrainedRole;
  /** For a run folder: its best checkpoint (default, else the newest) or its newest. */
  checkpoint?: "best" | "last";
}

const WHAT_TO_PASS = `pass a model folder (model.json + ${CARD_FILE}, e.g. from \`alexnet import-torch\`) or a training run folder (${RUN_CONFIG_FILE} + ${CHECKPOINTS_DIR}/, from \`alexnet train --out RUN\`)`;

function fail(
  role: TrainedRole,
  what: "missing" | "neither" | "no checkpoint" | "no run" | "no card" | "bad run" | "bad card",
  dir: string,
  detail = "",
): never {
  const eval_ = {
    missing: `${dir} is neither a training run (no ${RUN_CONFIG_FILE}; alexnet train --out makes one) nor a model folder (no ${CARD_FILE}; alexnet import-torch --out makes one): it does not exist.`,
    neither: `${dir} is neither a training run (no ${RUN_CONFIG_FILE}; alexnet train --out makes one) nor a model folder (no ${CARD_FILE}; alexnet import-torch --out makes one).`,
    "no checkpoint": `${dir} has no checkpoints (${CHECKPOINTS_DIR}/epoch-NNNN); train first with \`alexnet train --out ${dir}\`, or give a model folder.`,
  };
  const init = {
    missing: `init: ${dir} does not exist; ${WHAT_TO_PASS}.`,
    neither: `init: ${dir} is neither a model folder nor a training run (no ${MODEL_FILE}, ${CARD_FILE} or ${RUN_CONFIG_FILE}); ${WHAT_TO_PASS}.`,
    "no checkpoint": `init: the run ${dir} has no finished epoch (no ${CHECKPOINTS_DIR}/epoch-NNNN); train it for an epoch first (\`alexnet train --out ${dir} --resume\`), or pass another folder.`,
  };
  const prefix = role === "init" ? "init: " : "";
  const shared = {
    "no run": `${prefix}${dir} is a checkpoint, but ${detail} is missing, so its network is unknown; pass the whole run folder.`,
    "no card": `${prefix}${dir} has ${MODEL_FILE} but no ${CARD_FILE}, so its variant and input normalisation are unknown; write one with writeCard (lib/model/card.ts), re-import it with \`alexnet import-torch\`, or pass the run folder it came from.`,
    "bad run": `${prefix}${detail}`,
    "bad card": `${prefix}${detail}`,
  };
  throw new Error(({ ...(role === "init" ? init : eval_), ...shared } as Record<string, string>)[what]);
}

/** Units of fc8 as model.json's weight manifest records them (no tensors loaded). */
function headUnitsInFile(modelDir: string, role: TrainedRole): number {
  const file = path.join(modelDir, MODEL_FILE);
  let json: { weightsManifest?: { weights?: { name: string; shape: number[] }[] }[] };
  try {
    json = JSON.parse(readFileSync(file, "utf8")) as typeof json;
  } catch (err) {
    fail(
      role,
      "bad run",
      modelDir,
      `${file} is not valid JSON (${(err as Error).message}); save the model again, or pass another checkpoint.`,
    );
  }
  for (const group of json.weightsManifest ?? []) {
    for (const w of group.weights ?? []) if (w.name === `${HEAD_LAYER}/bias`) return w.shape[0];
  }
  fail(role, "bad run", modelDir, `${file} has no ${HEAD_LAYER}/bias weight; it is not an AlexNet from lib/model/alexnet.ts.`);
}

function datasetClasses(dataDir: string | undefined): string[] | undefined {
  if (dataDir === undefined) return undefined;
  try {
    const m = JSON.parse(readFileSync(path.join(dataDir, MANIFEST_FILE), "utf8")) as { classes?: unknown };
    return Array.isArray(m.classes) ? (m.classes as string[]) : undefined;
  } catch {
    return undefined; // the dataset may be gone; the class names are only a convenience
  }
}

function describeRun(runDir: string, checkpoint: string, given: string, role: TrainedRole): TrainedInfo {
  const file = path.join(runDir, RUN_CONFIG_FILE);
  let config: RunConfig;
  try {
    config = JSON.parse(readFileSync(file, "utf8")) as RunConfig;
  } catch (err) {
    fail(
      role,
      "bad run",
      runDir,
      `${file} is not valid JSON (${(err as Error).message}); the run's settings are unreadable; pass another run or a model folder.`,
    );
  }
  if (!config.model || !(ALEXNET_VARIANTS as readonly string[]).includes(config.model) || !config.modelOptions) {
    fail(
      role,
      "bad run",
      runDir,
      `${path.join(runDir, RUN_CONFIG_FILE)} names no AlexNet variant and model options; it was not written by \`alexnet train\`.`,
    );
  }
  const numClasses = headUnitsInFile(checkpoint, role);
  return {
    dir: given,
    kind: "run",
    runDir,
    config,
    modelDir: checkpoint,
    variant: config.model,
    modelOptions: { ...config.modelOptions, numClasses },
    classes: datasetClasses(config.data),
    ...(config.input ? { input: config.input } : {}),
    inputScale: config.inputScale ?? 1,
    source: `run ${runDir}, checkpoint ${path.basename(checkpoint)}`,
  };
}

/**
 * What a folder holds (variant, options, classes, input normalisation, the
 * weights' folder), read from its JSON files only: a run folder (its best
 * checkpoint, else its newest; `checkpoint: "last"` the newest), one checkpoint
 * folder of a run, or a model folder with card.json.
 */
export function describeTrained(dir: string, options: DescribeOptions = {}): TrainedInfo {
  const role = options.role ?? "eval";
  const given = path.resolve(dir);
  if (!existsSync(given)) fail(role, "missing", given);
  if (isRunFolder(given)) {
    const checkpoint = (options.checkpoint === "last" ? undefined : bestCheckpoint(given)) ?? latestCheckpoint(given);
    if (!checkpoint) fail(role, "no checkpoint", given);
    return describeRun(given, checkpoint, given, role);
  }
  if (isCheckpointFolder(given)) {
    // RUN/checkpoints/epoch-NNNN: the run's settings are two folders up (RUN/interrupted/checkpoints/epoch-NNNN: three).
    const up = path.dirname(path.dirname(given));
    const runDir = path.basename(up) === INTERRUPTED_DIR && isRunFolder(path.dirname(up)) ? path.dirname(up) : up;
    if (!isRunFolder(runDir)) fail(role, "no run", given, path.join(runDir, RUN_CONFIG_FILE));
    return describeRun(runDir, given, given, role);
  }
  if (existsSync(path.join(given, MODEL_FILE))) {
    if (!existsSync(path.join(given, CARD_FILE))) fail(role, "no card", given);
    const card = readCard(given);
    if (!(ALEXNET_VARIANTS as readonly string[]).includes(card.variant))
      fail(
        role,
        "bad card",
        given,
        `${path.join(given, CARD_FILE)} names variant '${card.variant}'; use one of ${ALEXNET_VARIANTS.join(", ")}.`,
      );
    return {
      dir: given,
      kind: "model",
      card,
      modelDir: given,
      variant: card.variant,
      modelOptions: { ...card.modelOptions, numClasses: card.modelOptions.numClasses ?? card.classes.length },
      classes: card.classes,
      input: card.input,
      inputScale: 1,
      source: card.source,
    };
  }
  fail(role, "neither", given);
}
