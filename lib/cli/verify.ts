import { UsageError, parse } from "./args";
import { formatVerifyReport, openDataset } from "../data/shards";
import { Progress } from "../viz/progress";

const HELP = `usage: alexnet verify DATA_DIR

Checks every shard of a prepared dataset against its manifest: each file's
size and sha256, as alexnet prepare recorded them. Names every shard that
differs and says how to repair it: delete the shard's .bin and .json and
manifest.json, then prepare again with the same options (only the missing
shards are redone). Exits 0 when all match, 1 otherwise.
train and eval take --verify to do the same before they start.`;

export async function run(argv: string[]): Promise<number> {
  const { positionals } = parse(argv, {}, HELP);
  if (positionals.length !== 1)
    throw new UsageError(`give one prepared dataset folder${positionals.length ? `, not ${positionals.length}` : ""}\n\n${HELP}`);
  const dir = positionals[0];
  const dataset = openDataset(dir);
  try {
    const progress = new Progress(
      "verify",
      dataset.splitNames.reduce((n, s) => n + (dataset.manifest.splits[s]?.shards.length ?? 0), 0),
      { unit: "shards" },
    );
    const report = await dataset.verify(() => progress.tick(1));
    progress.finish();
    console.log(formatVerifyReport(dir, report));
    return report.failures.length === 0 ? 0 : 1;
  } finally {
    await dataset.close();
  }
}
