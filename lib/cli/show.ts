import { writeFileSync } from "node:fs";
import { UsageError, parse, parseNumber } from "./args";
import { openDataset } from "../data/shards";
import type { SplitName } from "../data/types";
import { pngFromPixels } from "../viz/images";

const HELP = `usage: alexnet show --data DIR [--split train|val] [--index I] --out FILE.png

Writes one prepared record as a PNG and prints its class and source file.
--index defaults to 0 and --split to train.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    { data: { type: "string" }, split: { type: "string" }, index: { type: "string" }, out: { type: "string" } },
    HELP,
  );
  if (!values.data) throw new UsageError("--data DIR is required: a folder written by `alexnet prepare`");
  if (!values.out) throw new UsageError("--out FILE.png is required");
  const splitName = (values.split ?? "train") as SplitName;
  if (splitName !== "train" && splitName !== "val") throw new UsageError(`--split ${values.split}: use train or val`);
  const dataset = openDataset(values.data);
  try {
    if (!dataset.splitNames.includes(splitName))
      throw new UsageError(`${values.data} has no ${splitName} split (it has ${dataset.splitNames.join(", ")})`);
    const split = dataset.split(splitName);
    const index = parseNumber("index", values.index, { min: 0, integer: true }) ?? 0;
    if (index >= split.length)
      throw new UsageError(`--index ${index}: the ${splitName} split has ${split.length} records (0..${split.length - 1})`);
    const record = await split.readRecord(index, { origins: true });
    const [height, width] = dataset.recordShape;
    writeFileSync(values.out, await pngFromPixels({ pixels: record.pixels, width, height }));
    const name = dataset.manifest.classNames?.[record.label] ?? dataset.classes[record.label];
    console.log(`${values.out}: ${splitName} record ${index}, label ${record.label} (${name}), ${width}x${height}, from ${record.origin}`);
    return 0;
  } finally {
    dataset.close();
  }
}
