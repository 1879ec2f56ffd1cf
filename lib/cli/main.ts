// `alexnet <command>`: one module per command, loaded only when used so that
// `alexnet notebooks` does not pay for TensorFlow.js start-up.
import { UsageError } from "./args";
import { FolderInUseError } from "../folders";
import { RunLockedError } from "../run/lock";

interface Command {
  summary: string;
  load: () => Promise<{ run: (argv: string[]) => Promise<number> }>;
}

const COMMANDS: Record<string, Command> = {
  notebooks: { summary: "run notebooks headless and write executed copies", load: () => import("./notebooks") },
  engine: { summary: "show which TensorFlow.js engine this machine gets, and why", load: () => import("./engine") },
  prepare: { summary: "preprocess a dataset the paper's way into shards (section 2)", load: () => import("./prepare") },
  train: { summary: "train AlexNet with checkpoints, validation and exact resume (section 5)", load: () => import("./train") },
  eval: {
    summary: "top-1/top-5 error, 10-patch testing and the paper's figures for a trained run (section 6)",
    load: () => import("./eval"),
  },
  reproduce: { summary: "measure the paper's claims over seeds: effects, 95% intervals and verdicts", load: () => import("./reproduce") },
  predict: { summary: "top-5 labels for image files from a run or an imported model", load: () => import("./predict") },
  "import-torch": {
    summary: "import torchvision's AlexNet checkpoint (.pth or .safetensors) without running its code",
    load: () => import("./import-torch"),
  },
  "jupyter-kernel": {
    summary: "register the notebooks' TypeScript (tslab) kernel with Jupyter, by absolute path",
    load: () => import("./jupyter-kernel"),
  },
  show: { summary: "write one prepared record as a PNG", load: () => import("./show") },
  verify: { summary: "check a prepared dataset's shards against its manifest (sizes and sha256)", load: () => import("./verify") },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    "usage: alexnet <command> [options]",
    "",
    "commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    "`alexnet <command> --help` describes a command's options.",
  ].join("\n");
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    process.exitCode = name ? 0 : 2;
    return;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`alexnet: unknown command '${name}'\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  try {
    process.exitCode = await (await command.load()).run(rest);
  } catch (err) {
    // Bad usage, and refusals to write where the output would harm something (a folder in use, a locked run): exit 2.
    if (err instanceof UsageError || err instanceof FolderInUseError || err instanceof RunLockedError) {
      console.error(`alexnet ${name}: ${err.message}`);
      process.exitCode = 2;
    } else {
      console.error(`alexnet ${name}: ${(err as Error).message ?? err}`);
      if (process.env.ALEXNET_DEBUG) console.error(err);
      process.exitCode = 1;
    }
  }
}
