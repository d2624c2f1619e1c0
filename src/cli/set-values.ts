import { CliError } from './cli-error.js';

/**
 * `--set key=value` pairs read by the strategy's `parameters_schema` types: numbers, booleans,
 * lists as comma-separated values (each item by the list's item type), objects as JSON. The
 * server validates ranges and patterns; this only turns text into the right JSON types.
 */

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: unknown;
  enum?: unknown[];
};

export function parseSetValues(strategy: string, sets: readonly string[], schema: unknown): Record<string, unknown> {
  const root = (schema ?? {}) as JsonSchema;
  const properties = root.properties ?? {};
  const parameters: Record<string, unknown> = {};
  for (const set of sets) {
    const at = set.indexOf('=');
    if (at <= 0) throw new CliError(`--set "${set}": expected key=value`);
    const key = set.slice(0, at);
    const text = set.slice(at + 1);
    const property = properties[key];
    if (!property && root.additionalProperties === false) {
      const known = Object.keys(properties);
      throw new CliError(`--set ${key}: ${strategy} has no parameter "${key}"${known.length ? ` (it has: ${known.join(', ')})` : ''}`);
    }
    parameters[key] = parseValue(key, text, property ?? {});
  }
  return parameters;
}

function typeOf(schema: JsonSchema): string | undefined {
  const types = [schema.type ?? []].flat().filter((type) => type !== 'null');
  return types[0];
}

function parseValue(key: string, text: string, schema: JsonSchema): unknown {
  const fail = (expected: string): never => {
    throw new CliError(`--set ${key}: expected ${expected}, got "${text}"`);
  };
  switch (typeOf(schema)) {
    case 'integer':
      return /^[+-]?\d+$/.test(text.trim()) ? Number(text) : fail('a whole number');
    case 'number': {
      const value = Number(text);
      return text.trim() !== '' && Number.isFinite(value) ? value : fail('a number');
    }
    case 'boolean': {
      const value = text.trim().toLowerCase();
      if (['true', 'yes', 'on', '1'].includes(value)) return true;
      if (['false', 'no', 'off', '0'].includes(value)) return false;
      return fail('true or false');
    }
    case 'array': {
      const items = text.trim() === '' ? [] : text.split(',').map((item) => item.trim());
      return items.map((item, i) => parseValue(`${key}[${i}]`, item, schema.items ?? {}));
    }
    case 'object':
      try {
        const value: unknown = JSON.parse(text);
        return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : fail('a JSON object');
      } catch {
        return fail('a JSON object');
      }
    case 'string':
      return text;
    default:
      // No declared type: JSON when it reads as JSON (numbers, true, lists), else the text.
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return text;
      }
  }
}
