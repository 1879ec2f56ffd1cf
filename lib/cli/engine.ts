import { parse } from "./args";
import { formatEngineReport, selectEngine } from "../engine/select";

const HELP = `usage: alexnet engine [--json]

Chooses a TensorFlow.js engine the way notebooks and training do (cuda, webgpu
on a hardware adapter, node, wasm, cpu; ALEXNET_BACKEND=cuda|webgpu|node|wasm|cpu
forces one, and gpu means cuda) and prints why.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { json: { type: "boolean" } }, HELP);
  const report = await selectEngine();
  console.log(values.json ? JSON.stringify(report) : formatEngineReport(report));
  return 0;
}
