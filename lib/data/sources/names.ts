// Class-name files: "id words" maps (ImageNet's synset_words.txt) and plain lists
// in label order (CIFAR-10's batches.meta.txt, a --class-names file for IDX).
import { readTextFile } from "./files";

/**
 * Reads "<id> <words>" lines: synset_words.txt / LOC_synset_mapping.txt
 * ("n01440764 tench, Tinca tinca") or Tiny ImageNet's tab-separated words.txt.
 */
export async function readSynsetWords(file: string): Promise<Map<string, string>> {
  const text = await readTextFile(file, "--class-names must be a file of '<class-id> <words>' lines, e.g. ImageNet's synset_words.txt");
  const words = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    const m = /^(\S+)\s+(.+)$/.exec(line);
    if (!m) throw new Error(`${file}:${i + 1}: expected '<class-id> <words>', got "${line}"`);
    words.set(m[1], m[2].trim());
  });
  return words;
}

/** Reads one class name per line, in label order; trailing blank lines are dropped, a blank line between names is an error (it would shift every label after it). */
export async function readNameList(file: string): Promise<string[]> {
  const text = await readTextFile(file, "--class-names must be a file with one class name per line, in label order");
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const blank = lines.indexOf("");
  if (blank >= 0) throw new Error(`${file}:${blank + 1}: empty class name; the file must have one name per line, in label order`);
  if (lines.length === 0) throw new Error(`${file}: no class names in it; it must have one name per line, in label order`);
  return lines;
}
