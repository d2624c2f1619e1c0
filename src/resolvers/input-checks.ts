import { BadUserInputError } from '../errors.js';

/**
 * Checks on free-form input before it goes anywhere (validation, storage, a child's argv):
 * PostgreSQL cannot store a NUL in text or JSON, a lone UTF-16 surrogate is not valid Unicode,
 * and deeply nested values overflow recursive validators. Each is a client's mistake with a
 * field name, never a 500. Walked with an explicit stack: the check itself cannot overflow.
 */

export const MAX_PARAMETER_DEPTH = 32;
export const MAX_PARAMETER_NODES = 10_000;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** @throws BadUserInputError naming the first field that cannot be stored or sent as-is. */
export function checkText(value: string, field: string): void {
  if (value.includes('\u0000')) throw problem(field, 'must not contain a NUL character (\\u0000)');
  if (LONE_SURROGATE.test(value)) throw problem(field, 'must be valid Unicode (it holds a lone surrogate)');
}

/** @throws BadUserInputError for a value nested too deep, too large, or holding unstorable text. */
export function checkParameters(value: unknown, field = 'parameters'): void {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: field, depth: 0 }];
  let nodes = 0;
  while (stack.length) {
    const { value: current, path, depth } = stack.pop()!;
    nodes += 1;
    if (nodes > MAX_PARAMETER_NODES) throw problem(field, `must hold at most ${MAX_PARAMETER_NODES} values`);
    if (depth > MAX_PARAMETER_DEPTH) throw problem(path, `is nested deeper than ${MAX_PARAMETER_DEPTH} levels`);
    if (typeof current === 'string') checkText(current, path);
    else if (Array.isArray(current)) current.forEach((item, i) => stack.push({ value: item, path: `${path}[${i}]`, depth: depth + 1 }));
    else if (typeof current === 'object' && current !== null) {
      for (const [key, item] of Object.entries(current)) {
        checkText(key, `${path} (a key)`);
        stack.push({ value: item, path: `${path}.${key}`, depth: depth + 1 });
      }
    }
  }
}

function problem(field: string, message: string): BadUserInputError {
  return new BadUserInputError(`${field} ${message}`, [{ field, message }]);
}
