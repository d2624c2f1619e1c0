import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { execa } from 'execa';
import { z } from 'zod';
import type { FieldProblem } from '../errors.js';
import { childEnvironment } from './child-process.js';
import { type ParameterConstraint, readConstraints } from './parameter-constraints.js';

/**
 * One manifest, `NAME.strategy.json` (CONTRACT §2): parsed, its parameters schema compiled (or
 * asked of the script with `--describe`), its cross-field constraints read. Errors are plain
 * `Error`s whose message says what is wrong, for the registry to report.
 */

export const MANIFEST_SUFFIX = '.strategy.json';

const ManifestSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'letters, digits, "_", "." or "-" (at most 100)'),
  description: z.string().default(''),
  command: z.array(z.string().min(1)).min(1, 'needs at least the program to run'),
  parameters_schema: z.record(z.string(), z.unknown()).optional(),
  // At most 24 days: the longest delay a Node timer can hold.
  timeout_seconds: z.number().int().positive().max(2_000_000).optional(),
  // Runs of this strategy executing at once across every instance (e.g. a data vendor's quota).
  max_concurrent: z.number().int().positive().max(100_000).optional(),
});

export type Manifest = z.infer<typeof ManifestSchema>;

export interface Strategy {
  readonly name: string;
  readonly description: string;
  readonly command: readonly string[];
  /** The manifest's folder: the command runs from there. */
  readonly directory: string;
  readonly parametersSchema: Readonly<Record<string, unknown>>;
  readonly timeoutSeconds: number | undefined;
  /** Cluster-wide limit on this strategy's concurrent runs (manifest `max_concurrent`). */
  readonly maxConcurrent: number | undefined;
}

export interface RegisteredStrategy {
  readonly strategy: Strategy;
  readonly validate: ValidateFunction;
  readonly constraints: readonly ParameterConstraint[];
}

export function parseManifest(text: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`not valid JSON: ${(error as Error).message}`);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((i) => `${i.path.join('.') || '(manifest)'}: ${i.message}`).join('; '));
  }
  return parsed.data;
}

export async function registerManifest(manifest: Manifest, directory: string): Promise<RegisteredStrategy> {
  const schema = manifest.parameters_schema ?? (await describe(manifest.command, directory));
  let validate: ValidateFunction;
  try {
    validate = validatorFor(schema).compile(schema);
  } catch (error) {
    throw new Error(`parameters_schema is not a valid JSON Schema: ${(error as Error).message}`);
  }
  return {
    strategy: Object.freeze({
      name: manifest.name,
      description: manifest.description,
      command: Object.freeze([...manifest.command]),
      directory,
      parametersSchema: schema,
      timeoutSeconds: manifest.timeout_seconds,
      maxConcurrent: manifest.max_concurrent,
    }),
    validate,
    constraints: readConstraints(schema),
  };
}

/** A manifest without a schema: ask the script (`command --describe`). */
async function describe(command: readonly string[], cwd: string): Promise<Record<string, unknown>> {
  const [file, ...args] = command;
  const result = await execa(file!, [...args, '--describe'], {
    cwd,
    env: childEnvironment({}),
    extendEnv: false,
    reject: false,
    timeout: 15_000,
    stdin: 'ignore',
    maxBuffer: 1024 * 1024,
  });
  if (result.failed) {
    throw new Error(`no parameters_schema, and \`${command.join(' ')} --describe\` failed: ${result.shortMessage}`);
  }
  try {
    const schema = JSON.parse(String(result.stdout)) as unknown;
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new Error('not an object');
    return schema as Record<string, unknown>;
  } catch (error) {
    throw new Error(`\`${command.join(' ')} --describe\` did not print a JSON Schema object: ${(error as Error).message}`);
  }
}

/** A validator for the schema's own dialect (2020-12 unless it names another); one per schema, so `$id`s never collide. */
function validatorFor(schema: Record<string, unknown>) {
  const options = { allErrors: true, useDefaults: true, strict: false } as const;
  const dialect = typeof schema.$schema === 'string' ? schema.$schema : '';
  if (dialect === '' || dialect.includes('2020-12')) return new Ajv2020(options);
  if (dialect.includes('2019-09')) return new Ajv2019(options);
  return new Ajv(options);
}

export function toFieldProblem(error: ErrorObject): FieldProblem {
  const base = error.instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (error.keyword === 'required') base.push(String(error.params.missingProperty));
  if (error.keyword === 'additionalProperties') {
    base.push(String(error.params.additionalProperty));
    return { field: ['parameters', ...base].join('.'), message: 'is not a known parameter' };
  }
  return { field: ['parameters', ...base].join('.'), message: error.message ?? 'is invalid' };
}
