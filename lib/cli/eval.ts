import path from "node:path";
import { UsageError, parse, parseNumber } from "./args";
import { selectEngine } from "../engine/select";
import { evaluateRun, formatEvalSummary } from "../eval/report";

const HELP = `usage: alexnet eval --run RUN|MODEL_DIR [--data DIR] [--ten-crop] [--both] [--json]

Section 6 for a trained model: top-1 and top-5 error on the validation split,
with the centre patch or (--ten-crop) the softmax averaged over the paper's ten
patches; per-class errors, the most confused pairs, and the paper's figures,
written to RUN/eval/: conv1-filters.png (Figure 3), predictions.png and .html
(Figure 4 left), neighbours.png (Figure 4 right: nearest training images by
fc7 distance), confusion.svg, metrics.json.

  --run DIR       a training run (its best checkpoint), one of its checkpoints
                  (RUN/checkpoints/epoch-NNNN; figures go to RUN/eval/epoch-NNNN/),
                  or a model folder (alexnet import-torch; then --data is required)
  --data DIR      the prepared dataset to evaluate on (default: the run's); its
                  mean image is the one subtracted, so for a run give the dataset
                  it was trained on (e.g. where it moved to)
  --ten-crop      the headline numbers use the 10-patch average
  --both          evaluate both protocols (the headline follows --ten-crop)
  --out DIR       where figures go (default RUN/eval)
  --gallery N     images in the prediction gallery (default 8, 0: none)
  --queries N     retrieval queries (default 5, 0: skip; it reads the train split)
  --batch N       evaluation batch size (default 32)
  --verify        check every shard of the data against its manifest first
  --json          print a JSON summary as the last line: {"top1Error", "top5Error", ...}`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      run: { type: "string" },
      data: { type: "string" },
      "ten-crop": { type: "boolean" },
      both: { type: "boolean" },
      out: { type: "string" },
      gallery: { type: "string" },
      queries: { type: "string" },
      batch: { type: "string" },
      json: { type: "boolean" },
      verify: { type: "boolean" },
    },
    HELP,
  );
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'; the model is given with --run DIR`);
  if (!values.run) throw new UsageError("--run RUN is required: a training run folder or a model folder");
  await selectEngine();
  const summary = await evaluateRun(path.resolve(values.run), {
    data: values.data,
    verify: values.verify ?? false,
    out: values.out,
    protocol: values["ten-crop"] ? "ten-crop" : "center",
    both: values.both ?? false,
    gallery: parseNumber("gallery", values.gallery, { min: 0, integer: true }),
    queries: parseNumber("queries", values.queries, { min: 0, integer: true }),
    batchSize: parseNumber("batch", values.batch, { min: 1, integer: true }),
    progress: values.json ? "silent" : process.stderr.isTTY ? "tty" : "lines",
  });
  console.log(formatEvalSummary(summary));
  if (values.json) console.log(JSON.stringify(summary));
  return 0;
}
