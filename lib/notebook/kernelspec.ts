// The Jupyter kernelspec for this checkout's tslab. `tslab install` writes the
// bare command "tslab", which is on PATH only after a global install, so Jupyter
// fails with FileNotFoundError after `npm ci`. This one names node and tslab by
// absolute path, and needs no Python: a kernelspec is a folder with kernel.json
// (https://jupyter-client.readthedocs.io/en/stable/kernels.html#kernel-specs).
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** The name tslab registers and the notebooks' metadata asks for (metadata.kernelspec.name). */
export const KERNEL_NAME = "tslab";

export interface KernelSpec {
  argv: string[];
  display_name: string;
  language: string;
}

/** This checkout's tslab command line (tslab's bin script, run by this node). */
export function tslabBin(root = path.resolve(__dirname, "..", "..")): string {
  const bin = path.join(root, "node_modules", "tslab", "bin", "tslab");
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`npm ci\` in ${root} first.`);
  return bin;
}

/** kernel.json for this checkout: tslab's own argv ("kernel --config-path {connection_file}"), with absolute paths. */
export function kernelSpec(root?: string, node = process.execPath): KernelSpec {
  return {
    argv: [node, tslabBin(root), "kernel", "--config-path", "{connection_file}"],
    display_name: "TypeScript",
    language: "typescript",
  };
}

/**
 * Where Jupyter looks for kernels (jupyter_core.paths): PREFIX/share/jupyter/kernels
 * with a prefix; per user, $JUPYTER_DATA_DIR/kernels, else the platform's data
 * folder (Linux: $XDG_DATA_HOME or ~/.local/share, /jupyter; macOS:
 * ~/Library/Jupyter; Windows: %APPDATA%\jupyter).
 */
export function kernelsDir(
  where: { prefix?: string },
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  if (where.prefix !== undefined) return path.join(path.resolve(where.prefix), "share", "jupyter", "kernels");
  if (env.JUPYTER_DATA_DIR) return path.join(env.JUPYTER_DATA_DIR, "kernels");
  if (platform === "darwin") return path.join(os.homedir(), "Library", "Jupyter", "kernels");
  if (platform === "win32") return path.join(env.APPDATA ?? path.join(os.homedir(), "AppData", "Roaming"), "jupyter", "kernels");
  return path.join(env.XDG_DATA_HOME || path.join(os.homedir(), ".local", "share"), "jupyter", "kernels");
}

/** Writes KERNELS/tslab/kernel.json (replacing an earlier one) and returns its folder. */
export function installKernelSpec(where: { prefix?: string } = {}, env: NodeJS.ProcessEnv = process.env): string {
  const dir = path.join(kernelsDir(where, env), KERNEL_NAME);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "kernel.json"), `${JSON.stringify(kernelSpec(), null, 1)}\n`);
  return dir;
}
