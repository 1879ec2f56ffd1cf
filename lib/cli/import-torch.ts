import path from "node:path";
import { UsageError, parse } from "./args";
import { formatEngineReport, selectEngine } from "../engine/select";
import { importTorchvision } from "../model/weights/torchvision";

const HELP = `usage: alexnet import-torch FILE.pth|FILE.safetensors --out MODEL_DIR

Imports torchvision's AlexNet weights (e.g. alexnet-owt-7be5be79.pth from
download.pytorch.org/models/) into the "torchvision" variant and writes
MODEL_DIR/model.json, weights.bin and card.json (classes, the input
normalisation torchvision's weights expect, the file's sha256).

The checkpoint is read without Python and nothing in it is run: a .pth may
name only the few callables a state dict is made of, so a pickled whole model
or a file carrying code is refused. Widths and the number of classes are read
from the tensors, so width-reduced or fine-tuned copies import too.

  FILE              a state dict saved by torch.save (zip or legacy format),
                    or a .safetensors file with torchvision's parameter names
  --out MODEL_DIR   where the model and card.json go: an empty folder, or one
                    holding an import of the same file
  --force           replace another model in MODEL_DIR, or write beside other
                    files (which are kept)
  --json            print a JSON summary as the last line`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { out: { type: "string" }, json: { type: "boolean" }, force: { type: "boolean" } }, HELP);
  if (positionals.length === 0) throw new UsageError(`a checkpoint FILE is required\n\n${HELP}`);
  if (positionals.length > 1) throw new UsageError(`one checkpoint at a time; got ${positionals.join(", ")}`);
  if (!values.out) throw new UsageError("--out MODEL_DIR is required: the folder the imported model goes to");
  const file = path.resolve(positionals[0]);
  const engine = await selectEngine();
  console.log(formatEngineReport(engine));
  const result = await importTorchvision(file, values.out, { force: values.force });
  const { card } = result;
  const o = card.modelOptions;
  const classes =
    card.classes.length > 3 ? `${card.classes.slice(0, 3).join(", ")}, ... (${card.classes.length})` : card.classes.join(", ");
  console.log(
    [
      `imported ${path.basename(file)} (${result.format} format, sha256 ${result.sha256})`,
      `  model      torchvision AlexNet, widthMultiplier ${o.widthMultiplier}, fc ${o.fcUnits} units, ${result.parameters.toLocaleString("en-US")} parameters`,
      `  classes    ${classes}`,
      `  input      ${o.inputSize}x${o.inputSize} RGB, (pixel - mean) / std with ImageNet's mean and std`,
      `  wrote      ${path.join(values.out, "model.json")}, weights.bin, card.json`,
    ].join("\n"),
  );
  if (values.json) {
    console.log(
      JSON.stringify({
        file,
        format: result.format,
        sha256: result.sha256,
        parameters: result.parameters,
        modelOptions: o,
        classes: card.classes.length,
        out: values.out,
      }),
    );
  }
  result.model.dispose();
  return 0;
}
