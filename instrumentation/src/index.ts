export { StreamscopeInstrumentation } from './instrumentation.ts';
export type { StreamscopeInstrumentationConfig } from './types.ts';
export * from './contract.ts';
