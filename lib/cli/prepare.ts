import path from "node:path";
import { UsageError, parse, parseNumber } from "./args";
import { type PrepareOptions, type PrepareReport, formatPrepareReport, parseWorkerSlice, prepareDataset } from "../data/prepare";
import { DEFAULT_MAX_PIXELS, RESIZE_KERNELS, type ResizeKernel } from "../data/preprocess";
import { SOURCE_FORMATS, isSourceFormat, openSource } from "../data/sources/index";
import { syntheticDescription } from "../data/synthetic";

const HELP = `usage: alexnet prepare --format FORMAT [--source PATH] --out DIR [options]

Prepares a dataset the paper's way (section 2): shorter side to 256, central
256x256 crop, RGB; writes uint8 shards, a manifest, the training mean image and
the RGB covariance with its eigenvectors (data/FORMAT.md). Bad images are
skipped and listed with a reason. Running the same command again resumes.

  --format F            ${SOURCE_FORMATS.join(" | ")}
  --source PATH         the dataset (not needed for synthetic): a folder of class
                        folders (or ROOT/train + ROOT/val), CIFAR binary batches,
                        or IDX files
  --out DIR             where the prepared dataset goes
  --val-source PATH     the val split from a second path of the same format
  --val-labels FILE     labels of a flat ImageNet val folder (LOC_val_solution.csv,
                        or "<file> <synset-or-index>" lines)
  --class-names FILE    class names (synset_words.txt, or one name per line)
  --size N              side of the stored images (default 256)
  --kernel K            resampling: ${RESIZE_KERNELS.join(", ")} (default linear)
  --limit-per-class N   keep the first N images of each class in each split
  --records-per-shard N records per shard (default: about 64 MiB of pixels)
  --max-pixels N        skip images of more than N pixels (width x height; default
                        ${DEFAULT_MAX_PIXELS.toLocaleString("en-US")}): a guard against decompression bombs
  --jobs N              images in flight at once (default 2 x CPU threads)
  --shard I/N           prepare only worker I's share of N; the last to finish
                        writes the manifest
  --seed N              synthetic: the generator's seed (default 1)
  --train-per-class N   synthetic: training images per class (default 260)
  --val-per-class N     synthetic: validation images per class (default 50)
  --force               write into a folder that holds other files (they are kept)
  --json                print the report as one JSON object on the last line

--out must be empty or hold this dataset: a folder with other files is
refused (exit 2), listing them.`;

/** The command line that resumes this run, quoted for a POSIX shell where needed. */
export function resumeCommand(argv: readonly string[]): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`);
  return ["alexnet", "prepare", ...argv.filter((a) => a !== "--json").map(quote)].join(" ");
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      format: { type: "string" },
      source: { type: "string" },
      out: { type: "string" },
      "val-source": { type: "string" },
      "val-labels": { type: "string" },
      "class-names": { type: "string" },
      size: { type: "string" },
      kernel: { type: "string" },
      "limit-per-class": { type: "string" },
      "records-per-shard": { type: "string" },
      jobs: { type: "string" },
      "max-pixels": { type: "string" },
      shard: { type: "string" },
      seed: { type: "string" },
      "train-per-class": { type: "string" },
      "val-per-class": { type: "string" },
      json: { type: "boolean" },
      force: { type: "boolean" },
    },
    HELP,
  );
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'; the source is given with --source PATH`);
  const format = values.format;
  if (!format) throw new UsageError(`--format is required: one of ${SOURCE_FORMATS.join(", ")}`);
  if (!isSourceFormat(format)) throw new UsageError(`--format ${format}: use one of ${SOURCE_FORMATS.join(", ")}`);
  if (!values.out) throw new UsageError("--out DIR is required: the folder the prepared dataset goes to");
  if (format !== "synthetic" && !values.source) throw new UsageError(`--source PATH is required for --format ${format}`);
  const kernel = values.kernel as ResizeKernel | undefined;
  if (kernel !== undefined && !RESIZE_KERNELS.includes(kernel))
    throw new UsageError(`--kernel ${kernel}: use one of ${RESIZE_KERNELS.join(", ")}`);
  const synthetic = {
    seed: parseNumber("seed", values.seed, { integer: true }),
    trainPerClass: parseNumber("train-per-class", values["train-per-class"], { min: 1, integer: true }),
    valPerClass: parseNumber("val-per-class", values["val-per-class"], { min: 1, integer: true }),
  };
  const sourcePath = values.source ? path.resolve(values.source) : "";
  const source = await openSource(format, sourcePath, {
    valSource: values["val-source"],
    valLabels: values["val-labels"],
    classNames: values["class-names"],
    limitPerClass: parseNumber("limit-per-class", values["limit-per-class"], { min: 1, integer: true }),
    synthetic: format === "synthetic" ? Object.fromEntries(Object.entries(synthetic).filter(([, v]) => v !== undefined)) : undefined,
  });
  const options: PrepareOptions = {
    source,
    out: values.out,
    size: parseNumber("size", values.size, { min: 8, integer: true }),
    kernel,
    recordsPerShard: parseNumber("records-per-shard", values["records-per-shard"], { min: 1, integer: true }),
    jobs: parseNumber("jobs", values.jobs, { min: 1, integer: true }),
    maxPixels: parseNumber("max-pixels", values["max-pixels"], { min: 1, integer: true }),
    force: values.force ?? false,
    worker: values.shard ? parseWorkerSlice(values.shard) : undefined,
    // Identical for every worker and every resume: no worker-specific values here.
    sourceDescription: {
      format,
      path: sourcePath || undefined,
      valSource: values["val-source"],
      limitPerClass: values["limit-per-class"],
      ...(format === "synthetic"
        ? syntheticDescription(Object.fromEntries(Object.entries(synthetic).filter(([, v]) => v !== undefined)))
        : {}),
    },
  };
  // Finished shards are kept and a half-written one is redone, so stopping loses at most one shard's work:
  // say so, with the command that carries on, rather than leaving the user to guess.
  const onSigint = (): void => {
    console.error(
      `\nstopped. Finished shards in ${path.resolve(values.out as string)} are kept; carry on with the same command:\n  ${resumeCommand(argv)}`,
    );
    process.exit(130);
  };
  process.once("SIGINT", onSigint);
  let report: PrepareReport;
  try {
    report = await prepareDataset(options);
  } finally {
    process.off("SIGINT", onSigint);
  }
  console.log(formatPrepareReport(report));
  if (values.json) {
    const { manifest, ...rest } = report;
    console.log(JSON.stringify({ ...rest, complete: manifest !== undefined }));
  }
  const written = Object.values(report.written).reduce((a, b) => a + (b ?? 0), 0);
  return written > 0 ? 0 : 1;
}
