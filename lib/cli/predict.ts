import { UsageError, parse, parseNumber } from "./args";
import { DEFAULT_MAX_PIXELS } from "../data/preprocess";
import { selectEngine } from "../engine/select";
import { formatPredictions, loadPredictor, predictFiles } from "../eval/predict";

const HELP = `usage: alexnet predict --run RUN|MODEL_DIR [--data DIR] [--ten-crop] [--top K] [--json] IMAGE...

Top-K labels with probabilities for each image (JPEG, PNG, WebP, ...), prepared
as the network's training images were: the shorter side resized to the record
size, the centre square cut out, the training mean subtracted, the centre patch
(or with --ten-crop the paper's ten patches, softmax averaged).

  --run DIR     a training run (alexnet train --out; its best checkpoint is used),
                one of its checkpoints (RUN/checkpoints/epoch-NNNN),
                or a model folder (alexnet import-torch --out)
  --data DIR    the prepared dataset the run was trained on, when it has moved
                (its mean image and class names are needed)
  --ten-crop    average the softmax over the ten patches (section 4.1)
  --top K       labels per image (default 5)
  --max-pixels N  refuse images of more than N pixels (width x height; default
                ${DEFAULT_MAX_PIXELS.toLocaleString("en-US")}): a guard against decompression bombs
  --json        print one JSON array instead of the table`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      run: { type: "string" },
      data: { type: "string" },
      "ten-crop": { type: "boolean" },
      top: { type: "string" },
      json: { type: "boolean" },
      "max-pixels": { type: "string" },
    },
    HELP,
  );
  if (!values.run) throw new UsageError("--run RUN is required: a training run folder or a model folder");
  if (positionals.length === 0) throw new UsageError("give at least one image file");
  const k = parseNumber("top", values.top, { min: 1, integer: true }) ?? 5;
  await selectEngine();
  const predictor = await loadPredictor(values.run, { data: values.data });
  try {
    const predictions = await predictFiles(predictor, positionals, {
      k,
      views: values["ten-crop"] ? "ten-crop" : "center",
      maxPixels: parseNumber("max-pixels", values["max-pixels"], { min: 1, integer: true }),
    });
    if (values.json) console.log(JSON.stringify(predictions));
    else
      console.log(
        `${predictor.weights} (${predictor.classes.length} classes, ${values["ten-crop"] ? "10-patch average" : "centre patch"})\n${formatPredictions(predictions)}`,
      );
    return 0;
  } finally {
    predictor.model.dispose();
  }
}
