/*
 * The instrumentation settings both overhead benchmarks compare, and how they rotate
 * through them: off; on, with the API's no-op metrics; on with the OpenTelemetry metrics
 * SDK, as an application that exports metrics has it (its reader collected after each
 * round, as a periodic one would every minute or so); and that with
 * `timePerOutputChunkMetric` off.
 */
import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { StreamscopeInstrumentation } from '@streamscope/instrumentation';

export const MODES = ['off', 'on', 'on, meter provider', 'on, meter provider, no per-chunk metric'] as const;
export type Mode = (typeof MODES)[number];

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export interface ModeSwitch {
  /** Puts the instrumentation in `mode`. */
  apply(mode: Mode): void;
  /** Collects the metrics recorded so far, so each round pays for its own. */
  collect(): Promise<void>;
  /** Back to the defaults: configuration and the global (no-op) meter provider. */
  reset(): void;
}

export function modeSwitch(instrumentation: StreamscopeInstrumentation): ModeSwitch {
  const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.DELTA), exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    apply(mode) {
      if (mode === 'off') instrumentation.disable();
      else instrumentation.enable();
      instrumentation.setConfig({ timePerOutputChunkMetric: mode !== 'on, meter provider, no per-chunk metric' });
      instrumentation.setMeterProvider(mode.startsWith('on, meter provider') ? meterProvider : metrics.getMeterProvider());
    },
    collect: () => reader.forceFlush(),
    reset() {
      instrumentation.setConfig({});
      instrumentation.setMeterProvider(metrics.getMeterProvider());
    },
  };
}

/**
 * The median of `measure` per mode, in the order of `modes`, over `rounds` rounds after one
 * warm-up round each (JIT).
 * The mode that goes first rotates, so drift (neighbours, GC) lands on all of them.
 */
export async function rotatedMedians(rounds: number, measure: (mode: Mode) => Promise<number>, modes: readonly Mode[] = MODES): Promise<number[]> {
  for (const mode of modes) await measure(mode);
  const figures = new Map<Mode, number[]>(modes.map((mode) => [mode, []]));
  for (let i = 0; i < rounds; i++) {
    for (let m = 0; m < modes.length; m++) {
      const mode = modes[(i + m) % modes.length];
      figures.get(mode)!.push(await measure(mode));
    }
  }
  return modes.map((mode) => median(figures.get(mode)!));
}
