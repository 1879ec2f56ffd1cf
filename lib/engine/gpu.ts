// Which CUDA GPUs this process could use. Asked of nvidia-smi (installed with the
// driver) rather than of TensorFlow, which falls back to the CPU without a word.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";

export interface GpuProbe {
  env?: NodeJS.ProcessEnv;
  /** Runs nvidia-smi; injected in tests. Returns its stdout or throws. */
  nvidiaSmi?: () => string;
  /** Lists /proc/driver/nvidia/gpus; injected in tests. */
  procGpus?: () => string[];
}

function runNvidiaSmi(): string {
  return execFileSync("nvidia-smi", ["--query-gpu=name,memory.total", "--format=csv,noheader"], {
    encoding: "utf8",
    timeout: 5000,
    stdio: ["ignore", "pipe", "ignore"],
  });
}

function listProcGpus(): string[] {
  const dir = "/proc/driver/nvidia/gpus";
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** Names of the GPUs visible to CUDA, honouring CUDA_VISIBLE_DEVICES. */
export function visibleGpus(probe: GpuProbe = {}): string[] {
  const env = probe.env ?? process.env;
  const mask = env.CUDA_VISIBLE_DEVICES;
  if (mask !== undefined && (mask.trim() === "" || mask.trim() === "-1")) return [];
  let names: string[];
  try {
    names = (probe.nvidiaSmi ?? runNvidiaSmi)()
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "");
  } catch {
    // No nvidia-smi: the driver may still be loaded (containers often lack the tool).
    names = (probe.procGpus ?? listProcGpus)().map((bus) => `NVIDIA GPU at ${bus}`);
  }
  if (mask !== undefined) {
    const allowed = mask
      .split(",")
      .map((s) => s.trim())
      .filter((s) => /^\d+$/.test(s))
      .map(Number);
    if (allowed.length > 0) names = names.filter((_, i) => allowed.includes(i));
  }
  return names;
}
