// Where the course looks for torchvision's ImageNet weights, and what it uses
// when they are absent: the course never downloads them, so a fresh clone runs
// notebook 10 on the small fixture PyTorch wrote for the tests.
import { existsSync } from "node:fs";
import path from "node:path";
import { projectRoot } from "../data/embedded";

/** torchvision's IMAGENET1K_V1 AlexNet weights; the name carries the first 8 hex digits of the file's sha256. */
export const TORCHVISION_ALEXNET = {
  file: "alexnet-owt-7be5be79.pth",
  url: "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
  sha256Prefix: "7be5be79",
} as const;

export const PRETRAINED_ENV = "ALEXNET_TORCHVISION_WEIGHTS";

export interface PretrainedChoice {
  file: string;
  /** true when the real weights were not found and the test fixture stands in. */
  fixture: boolean;
  /** Where the file was looked for, and how to get it. */
  howToGet: string;
}

export function pretrainedSearchPaths(root = projectRoot()): string[] {
  return [path.join(root, "data", "pretrained", TORCHVISION_ALEXNET.file), path.join(root, TORCHVISION_ALEXNET.file)];
}

/** $ALEXNET_TORCHVISION_WEIGHTS, else data/pretrained/alexnet-owt-7be5be79.pth, else the fixture. */
export function pretrainedCheckpoint(env: NodeJS.ProcessEnv = process.env, root = projectRoot()): PretrainedChoice {
  const howToGet = [
    `torchvision's ImageNet weights are not part of the course (61.1 million float32 weights, 244 MB). To use them:`,
    `  curl -L -o data/pretrained/${TORCHVISION_ALEXNET.file} ${TORCHVISION_ALEXNET.url}`,
    `or point ${PRETRAINED_ENV} at a copy you have (a .pth or .safetensors with torchvision's names).`,
  ].join("\n");
  const fromEnv = env[PRETRAINED_ENV];
  if (fromEnv) {
    if (!existsSync(fromEnv))
      throw new Error(
        `${PRETRAINED_ENV}=${fromEnv}: no such file; fix the path or unset it to use data/pretrained/${TORCHVISION_ALEXNET.file}.`,
      );
    return { file: path.resolve(fromEnv), fixture: false, howToGet };
  }
  const found = pretrainedSearchPaths(root).find((f) => existsSync(f));
  if (found) return { file: found, fixture: false, howToGet };
  return { file: path.join(root, "test", "fixtures", "torch", "alexnet-tiny.pth"), fixture: true, howToGet };
}

/** Whether a sha256 is that of torchvision's published file (its name carries the first 8 hex digits). */
export function isTorchvisionRelease(sha256: string): boolean {
  return sha256.startsWith(TORCHVISION_ALEXNET.sha256Prefix);
}
