/*
 * Attribute names of GenAI instrumentations that do not (or not only) follow the
 * OpenTelemetry GenAI conventions, read so their spans become response rows too.
 */

/** OpenInference (Arize): its own namespace, no gen_ai.* at all. */
export const OPENINFERENCE = {
  SPAN_KIND: 'openinference.span.kind',
  /** The span kind value of a model call. */
  KIND_LLM: 'LLM',
  MODEL_NAME: 'llm.model_name',
  PROVIDER: 'llm.provider',
  SYSTEM: 'llm.system',
  PROMPT_TOKENS: 'llm.token_count.prompt',
  COMPLETION_TOKENS: 'llm.token_count.completion',
} as const;

/** OpenLIT: gen_ai.* plus server-side timings on the client span, in seconds. */
export const OPENLIT = {
  TIME_TO_FIRST_TOKEN_S: 'gen_ai.server.time_to_first_token',
  TIME_PER_OUTPUT_TOKEN_S: 'gen_ai.server.time_per_output_token',
} as const;

/**
 * Prompt and completion text the peers record by default. Streamscope keeps no content
 * unless asked to (the instrumentation's captureContent), so the collector drops these.
 */
const CONTENT_KEYS = new Set([
  'input.value',
  'output.value',
  'gen_ai.input.messages',
  'gen_ai.output.messages',
  'gen_ai.system_instructions',
  'gen_ai.prompt',
  'gen_ai.completion',
]);
const CONTENT_PREFIXES = ['llm.input_messages.', 'llm.output_messages.', 'gen_ai.prompt.', 'gen_ai.completion.'];

export function isContentAttribute(key: string): boolean {
  return CONTENT_KEYS.has(key) || CONTENT_PREFIXES.some((prefix) => key.startsWith(prefix));
}
