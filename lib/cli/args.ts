// Shared command-line parsing: node's parseArgs, with errors that name the flag.
import { type ParseArgsConfig, parseArgs } from "node:util";

export class UsageError extends Error {
  override name = "UsageError";
}

type Options = NonNullable<ParseArgsConfig["options"]>;
type Parsed<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>>;

export function parse<T extends Options>(argv: string[], options: T, help: string): Parsed<T> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(help);
    process.exit(0);
  }
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split("\n")[0]}\n\n${help}`);
  }
}

export function parseNumber(flag: string, value: string | undefined, { min = -Infinity, integer = false } = {}): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new UsageError(
      `--${flag} ${value}: expected ${integer ? "a whole number" : "a number"}${min > -Infinity ? ` of at least ${min}` : ""}`,
    );
  }
  return n;
}
