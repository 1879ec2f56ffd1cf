// A model folder that is not a training run (an imported torchvision checkpoint,
// a fine-tuning start point) carries DIR/card.json beside model.json: what the
// network is, what its outputs mean, and how pixels must be prepared for it.
// Without the last part a model imported from PyTorch would be fed the wrong
// numbers: torchvision's weights expect (x/255 - mean)/std per channel.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { writeFileAtomicSync } from "../files";
import type { AlexNetOptions, AlexNetVariant } from "./alexnet";

export const CARD_FILE = "card.json";

/** input = (pixel - mean[c]) * scale[c], pixels in 0..255, RGB, HWC. */
export interface InputNormalization {
  mean: [number, number, number];
  scale: [number, number, number];
}

/** torchvision's transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]) in 0..255 units. */
export const IMAGENET_NORMALIZATION: InputNormalization = {
  mean: [0.485 * 255, 0.456 * 255, 0.406 * 255],
  scale: [1 / (0.229 * 255), 1 / (0.224 * 255), 1 / (0.225 * 255)],
};

export interface ModelCard {
  variant: AlexNetVariant;
  /** The options buildAlexNet was called with (numClasses and inputSize included). */
  modelOptions: AlexNetOptions;
  /** One name per output, in output order. */
  classes: string[];
  input: InputNormalization;
  /** Where the weights came from, for the reader: a file name and its sha256, a run folder. */
  source: string;
}

export function writeCard(dir: string, card: ModelCard): void {
  writeFileAtomicSync(path.join(dir, CARD_FILE), JSON.stringify(card, null, 2) + "\n");
}

export function hasCard(dir: string): boolean {
  return existsSync(path.join(dir, CARD_FILE));
}

export function readCard(dir: string): ModelCard {
  const file = path.join(dir, CARD_FILE);
  if (!existsSync(file))
    throw new Error(`${file} is missing: ${dir} is not a model folder; make one with \`alexnet import-torch FILE.pth --out ${dir}\`.`);
  const card = JSON.parse(readFileSync(file, "utf8")) as ModelCard;
  if (!card.variant || !Array.isArray(card.classes) || !card.input || card.input.mean?.length !== 3 || card.input.scale?.length !== 3) {
    throw new Error(`${file} lacks variant, classes or input normalisation; re-create the folder with \`alexnet import-torch\`.`);
  }
  return card;
}
