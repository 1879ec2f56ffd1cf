// What this machine offers a training run: cores, memory, GPUs.
import os from "node:os";
import { visibleGpus } from "./gpu";
import type { EngineReport } from "./select";
import type { ProfileName } from "../profiles";

export interface Machine {
  platform: string;
  node: string;
  cpuModel: string;
  threads: number;
  memoryGiB: number;
  freeMemoryGiB: number;
  gpus: string[];
}

export function describeMachine(): Machine {
  const cpus = os.cpus();
  return {
    platform: `${os.platform()} ${os.arch()}`,
    node: process.version,
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    threads: os.availableParallelism(),
    memoryGiB: round1(os.totalmem() / 2 ** 30),
    freeMemoryGiB: round1(os.freemem() / 2 ** 30),
    gpus: visibleGpus(),
  };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

export interface ProfileAdvice {
  profile: ProfileName;
  why: string;
}

/** The profile that fits: paper needs a GPU engine (cuda, or webgpu on a hardware adapter); CI wants smoke; otherwise laptop. */
export function recommendProfile(machine: Machine, engine: EngineReport, env: NodeJS.ProcessEnv = process.env): ProfileAdvice {
  if (env.CI) return { profile: "smoke", why: "CI is set: the smoke profile checks every notebook in seconds" };
  if (engine.engine === "cuda")
    return { profile: "paper", why: `a CUDA GPU is in use (${machine.gpus[0] ?? "GPU"}): the full recipe is within reach` };
  // A software adapter is webgpu only when forced, and slower than wasm: it is no reason for the paper profile.
  if (engine.engine === "webgpu" && !engine.details.includes("software rendering")) {
    const adapter = engine.details.find((d) => d.startsWith("description: "))?.slice("description: ".length) ?? "a GPU";
    return {
      profile: "paper",
      why: `a WebGPU adapter is in use (${adapter}): the full recipe is within reach; bench/gpu-check.ts measures how fast`,
    };
  }
  if (machine.memoryGiB < 4)
    return { profile: "smoke", why: `${machine.memoryGiB} GiB of memory is too little for the laptop profile (it wants 4 GiB)` };
  return {
    profile: "laptop",
    why: `no GPU engine (running on '${engine.engine}' with ${machine.threads} threads): the laptop profile trains a scaled-down model in minutes; the paper profile would take weeks`,
  };
}
