import { z } from 'zod';
import type { FieldProblem } from '../errors.js';

/**
 * Rules between parameters that JSON Schema cannot say (`rsi_min <= rsi_max`), declared beside
 * the schema as `"x-constraints": [{"lte": ["rsi_min", "rsi_max"]}]` (optionally with a
 * `"message"`). The service checks them before a run is queued; the bundled `params.py` checks
 * the same list with the same wording, so a user sees one message whichever refuses first:
 * `must be <= rsi_max (20) (got 80)`, on the first field named.
 */

export const CONSTRAINTS_KEYWORD = 'x-constraints';

const OPERATORS = { lt: '<', lte: '<=', gt: '>', gte: '>=' } as const;
type Operator = keyof typeof OPERATORS;

const pair = z.tuple([z.string().min(1), z.string().min(1)]);
const ConstraintSchema = z
  .object({ lt: pair, lte: pair, gt: pair, gte: pair, message: z.string().min(1) })
  .partial()
  .strict()
  .refine((c) => Object.keys(OPERATORS).filter((op) => op in c).length === 1, 'needs exactly one of lt, lte, gt, gte');

export interface ParameterConstraint {
  readonly operator: Operator;
  readonly left: string;
  readonly right: string;
  readonly message: string | undefined;
}

/** The schema's constraints, checked; @throws Error naming what is wrong with the declaration. */
export function readConstraints(schema: Readonly<Record<string, unknown>>): ParameterConstraint[] {
  const declared = schema[CONSTRAINTS_KEYWORD];
  if (declared === undefined) return [];
  const parsed = z.array(ConstraintSchema).safeParse(declared);
  if (!parsed.success) {
    throw new Error(`${CONSTRAINTS_KEYWORD}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(list)'}: ${i.message}`).join('; ')}`);
  }
  const properties = (schema.properties ?? {}) as Record<string, unknown>;
  return parsed.data.map((entry, index) => {
    const operator = (Object.keys(OPERATORS) as Operator[]).find((op) => entry[op])!;
    const [left, right] = entry[operator]!;
    for (const name of [left, right]) {
      if (!(name in properties)) throw new Error(`${CONSTRAINTS_KEYWORD}.${index}: "${name}" is not a parameter of the schema`);
    }
    return { operator, left, right, message: entry.message };
  });
}

/** Every broken constraint, as field problems (empty when all hold or cannot be compared). */
export function checkConstraints(constraints: readonly ParameterConstraint[], parameters: Record<string, unknown>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const c of constraints) {
    const a = parameters[c.left];
    const b = parameters[c.right];
    // Absent or differently typed values are the schema's business, not the constraint's.
    const comparable = (typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string');
    if (!comparable || holds(c.operator, a, b)) continue;
    problems.push({
      field: `parameters.${c.left}`,
      message: c.message ?? `must be ${OPERATORS[c.operator]} ${c.right} (${show(b)}) (got ${show(a)})`,
    });
  }
  return problems;
}

function holds(operator: Operator, a: number | string, b: number | string): boolean {
  switch (operator) {
    case 'lt':
      return a < b;
    case 'lte':
      return a <= b;
    case 'gt':
      return a > b;
    case 'gte':
      return a >= b;
  }
}

/** As Python's `json.dumps` writes it (params.py formats the same way). */
function show(value: unknown): string {
  return JSON.stringify(value);
}
