import { parse } from "./args";
import { formatEngineReport, selectEngine } from "../engine/select";

const HELP = `usage: alexnet engine [--json]

Chooses a TensorFlow.js engine the way notebooks and training do (gpu, node,
wasm, cpu; ALEXNET_BACKEND=gpu|node|wasm|cpu forces one) and prints why.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { json: { type: "boolean" } }, HELP);
  const report = await selectEngine();
  console.log(values.json ? JSON.stringify(report) : formatEngineReport(report));
  return 0;
}
