// `alexnet jupyter-kernel`: registers this checkout's tslab as Jupyter's
// "TypeScript" kernel, with absolute paths (lib/notebook/kernelspec.ts).
import path from "node:path";
import { parse, UsageError } from "./args";
import { installKernelSpec, kernelSpec } from "../notebook/kernelspec";

const HELP = `usage: alexnet jupyter-kernel [--user | --prefix DIR]

Registers the TypeScript (tslab) kernel the notebooks use, as this checkout's
node and tslab by absolute path, so Jupyter finds it without a global tslab.
  --user        in your per-user Jupyter folder (the default), as
                \`jupyter kernelspec install --user\` does
  --prefix DIR  in DIR/share/jupyter/kernels (a virtualenv: --prefix "$VIRTUAL_ENV")
Run it again after moving the checkout or changing node.`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { user: { type: "boolean" }, prefix: { type: "string" } }, HELP);
  if (positionals.length) throw new UsageError(`unexpected argument ${positionals[0]}\n\n${HELP}`);
  if (values.user && values.prefix !== undefined) throw new UsageError(`--user and --prefix ${values.prefix}: give one of them\n\n${HELP}`);
  const dir = installKernelSpec(values.prefix !== undefined ? { prefix: values.prefix } : {});
  console.log(
    `registered the TypeScript kernel in ${dir}\n  ${kernelSpec().argv.join(" ")}\nthen: cd ${path.relative(process.cwd(), path.resolve(__dirname, "..", "..", "notebooks")) || "."} && jupyter lab`,
  );
  return 0;
}
