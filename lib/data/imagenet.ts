// The 1000 ILSVRC-2012 classes in the order every ImageNet model's outputs use
// (wnids sorted, as torchvision's ImageFolder and Caffe's synset_words.txt),
// shipped in data/imagenet/classes.tsv so predictions print names with no download.
import { readFileSync } from "node:fs";
import path from "node:path";
import { projectRoot } from "./embedded";

export const IMAGENET_CLASS_COUNT = 1000;

export interface ImagenetClass {
  index: number;
  /** WordNet id, the folder name in ILSVRC-2012's train set, e.g. "n01440764". */
  wnid: string;
  /** torchvision's short name, e.g. "tench" (unique across the 1000). */
  name: string;
  /** The synset's words, e.g. "tench, Tinca tinca". */
  words: string;
}

export function imagenetClassesFile(root = projectRoot()): string {
  return path.join(root, "data", "imagenet", "classes.tsv");
}

let cached: ImagenetClass[] | undefined;

/** The 1000 classes, by output index. */
export function imagenetClasses(): ImagenetClass[] {
  if (cached) return cached;
  const file = imagenetClassesFile();
  const lines = readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
  const rows = lines.slice(1).map((line, i) => {
    const [index, wnid, name, words] = line.split("\t");
    if (Number(index) !== i || !/^n\d{8}$/.test(wnid ?? "") || !name || !words) throw new Error(`${file}:${i + 2}: expected 'index<TAB>wnid<TAB>name<TAB>words' with index ${i}; restore the file from git.`);
    return { index: i, wnid, name, words };
  });
  if (rows.length !== IMAGENET_CLASS_COUNT) throw new Error(`${file} has ${rows.length} classes, not ${IMAGENET_CLASS_COUNT}; restore the file from git.`);
  cached = rows;
  return rows;
}

/** Short names by output index, for labelling a 1000-way prediction. */
export function imagenetClassNames(): string[] {
  return imagenetClasses().map((c) => c.name);
}
