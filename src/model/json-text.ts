/**
 * JSON text already made for a value, kept beside it so that the next party needing the same
 * text does not make it again: a batch of events is serialised once to be stored, and the Redis
 * bus publishes that very text. Weak (it lives as long as the value), and only for values that
 * nobody changes afterwards.
 */
const texts = new WeakMap<object, string>();

/** Records `text` as the JSON of `value` (which must be `JSON.stringify(value)` and stay so). */
export function withJsonText<T extends object>(value: T, text: string): T {
  texts.set(value, text);
  return value;
}

/** `JSON.stringify(value)`: the text recorded for it, or made now. */
export function jsonText(value: unknown): string {
  const known = typeof value === 'object' && value !== null ? texts.get(value) : undefined;
  return known ?? JSON.stringify(value);
}
