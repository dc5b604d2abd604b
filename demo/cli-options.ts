/*
 * Command-line options of `demo` and `bench`: numbers with a floor, and on/off flags. A
 * mistake names the option, what it accepts and the usage, so the user can fix the command.
 */
import { parseArgs } from 'node:util';

export interface NumberOption {
  default: number;
  /** Smallest accepted value. */
  min: number;
  integer?: boolean;
}

export interface ParsedOptions<N extends string, F extends string> {
  numbers: Record<N, number>;
  flags: Record<F, boolean>;
}

export function parseOptions<N extends string, F extends string = never>(
  args: readonly string[],
  spec: { numbers: Record<N, NumberOption>; flags?: readonly F[] },
  usage: string,
): ParsedOptions<N, F> {
  const numberNames = Object.keys(spec.numbers) as N[];
  const flagNames = spec.flags ?? [];
  // The options table is built at run time, so parseArgs cannot type the values itself.
  let values: Record<string, unknown>;
  try {
    values = parseArgs({
      args: [...args],
      options: Object.fromEntries([
        ...numberNames.map((name) => [name, { type: 'string' as const }]),
        ...flagNames.map((name) => [name, { type: 'boolean' as const }]),
      ]),
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${usage}`);
  }
  const numbers = {} as Record<N, number>;
  for (const name of numberNames) {
    const { default: fallback, min, integer = false } = spec.numbers[name];
    const raw = values[name];
    const value = typeof raw === 'string' ? Number(raw) : fallback;
    if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
      throw new Error(`--${name} takes ${integer ? 'a whole number' : 'a number'} ≥ ${min}, got "${String(raw)}"\n${usage}`);
    }
    numbers[name] = value;
  }
  const flags = Object.fromEntries(flagNames.map((name) => [name, values[name] === true])) as Record<F, boolean>;
  return { numbers, flags };
}
