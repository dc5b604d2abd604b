/*
 * A few members of one JSON object, read without parsing the rest. Request bodies carry
 * the whole conversation, and the Responses API's created and completed events echo the
 * instructions, the tools and the output: tens of KB that JSON.parse would turn into
 * objects on the application's thread only for a model name and a usage block to be read.
 * Here a string is skipped by a native search for its closing quote, only the structure
 * between strings is walked character by character, and only the wanted values are parsed.
 */

import { parseJson } from './json-scan.ts';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const SPACE = 0x20;

function skipSpace(json: string, at: number): number {
  while (at < json.length && json.charCodeAt(at) <= SPACE) at++;
  return at;
}

/**
 * Index just past the string whose opening quote is at `at`, or -1 if it is not closed.
 * (Scanning short strings in line instead was measured slower, even for tool schemas' names.)
 */
function skipString(json: string, at: number): number {
  for (let from = at + 1; ; ) {
    const quote = json.indexOf('"', from);
    if (quote < 0) return -1;
    // Escaped only by an odd run of backslashes: `\\"` closes the string.
    let before = quote - 1;
    while (json.charCodeAt(before) === BACKSLASH) before--;
    if ((quote - 1 - before) % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** Index just past the object or array opening at `at`, or -1 if it is not closed. */
function skipComposite(json: string, at: number): number {
  let depth = 0;
  for (let i = at; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === QUOTE) {
      const end = skipString(json, i);
      if (end < 0) return -1;
      i = end - 1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
    } else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) {
      return i + 1;
    }
  }
  return -1;
}

/** Index just past the value starting at `at` (no leading space), or -1. */
function skipValue(json: string, at: number): number {
  const c = json.charCodeAt(at);
  if (c === QUOTE) return skipString(json, at);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) return skipComposite(json, at);
  // A number or a literal: it runs to the next delimiter.
  let end = at;
  while (end < json.length) {
    const d = json.charCodeAt(end);
    if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || d <= SPACE) break;
    end++;
  }
  return end > at ? end : -1;
}

/** The wanted members found in one object: where each value lies in the text, parsed on demand. */
export class JsonMembers {
  constructor(
    private readonly json: string,
    /** Key → [start, end) of its value in `json`. */
    private readonly ranges: ReadonlyMap<string, readonly [number, number]>,
  ) {}

  /** Where the member's value starts, or -1 if it was not found. */
  start(key: string): number {
    return this.ranges.get(key)?.[0] ?? -1;
  }

  /** The member's value as JSON text, or undefined. */
  raw(key: string): string | undefined {
    const range = this.ranges.get(key);
    return range && this.json.slice(range[0], range[1]);
  }

  /** The member's value, parsed; undefined if absent or not valid JSON. */
  value(key: string): unknown {
    const raw = this.raw(key);
    return raw === undefined ? undefined : parseJson(raw);
  }
}

/**
 * The members named in `keys` of the object whose `{` is at `at` (by default the text's
 * first character past any space). Undefined when there is no object there. The walk stops
 * once every key is found, or where the text stops being well-formed: what was found
 * before that is kept, each value being whole, so a truncated event still yields its head.
 * Of a duplicated key, the first is kept.
 */
export function readMembers(json: string, keys: ReadonlySet<string>, at = skipSpace(json, 0)): JsonMembers | undefined {
  if (json.charCodeAt(at) !== OPEN_BRACE) return undefined;
  const ranges = new Map<string, readonly [number, number]>();
  for (let member = memberAt(json, skipSpace(json, at + 1)); member !== undefined && ranges.size < keys.size; ) {
    const [key, valueStart] = member;
    const valueEnd = skipValue(json, valueStart);
    if (valueEnd < 0) break;
    if (keys.has(key) && !ranges.has(key)) ranges.set(key, [valueStart, valueEnd]);
    member = nextMember(json, valueEnd);
  }
  return new JsonMembers(json, ranges);
}

/**
 * Where the value of member `key` of the object whose `{` is at `at` starts, or -1: the
 * value itself is not walked, so an object nested there is walked once, by readMembers.
 */
export function memberStart(json: string, key: string, at = skipSpace(json, 0)): number {
  if (json.charCodeAt(at) !== OPEN_BRACE) return -1;
  for (let member = memberAt(json, skipSpace(json, at + 1)); member !== undefined; ) {
    if (member[0] === key) return member[1];
    const valueEnd = skipValue(json, member[1]);
    if (valueEnd < 0) return -1;
    member = nextMember(json, valueEnd);
  }
  return -1;
}

/** The member whose key's quote is at `at`: its key and where its value starts. */
function memberAt(json: string, at: number): [key: string, valueStart: number] | undefined {
  if (json.charCodeAt(at) !== QUOTE) return undefined;
  const keyEnd = skipString(json, at);
  if (keyEnd < 0) return undefined;
  const colon = skipSpace(json, keyEnd);
  if (json.charCodeAt(colon) !== COLON) return undefined;
  return [json.slice(at + 1, keyEnd - 1), skipSpace(json, colon + 1)];
}

/** The member after the value ending at `valueEnd`, if a comma follows it. */
function nextMember(json: string, valueEnd: number): [key: string, valueStart: number] | undefined {
  const comma = skipSpace(json, valueEnd);
  return json.charCodeAt(comma) === COMMA ? memberAt(json, skipSpace(json, comma + 1)) : undefined;
}
