import { safeExecuteInTheMiddle } from '@opentelemetry/instrumentation';
import type { Recorder } from './internal-types.ts';

/** Runs observation code so that its failure is logged and never reaches the application. */
export function safely(recorder: Recorder, what: string, fn: () => void): void {
  safeExecuteInTheMiddle(fn, (err) => err && recorder.diag.error(`${what} failed`, err), true);
}
