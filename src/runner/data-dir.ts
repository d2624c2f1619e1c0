import fs from 'node:fs/promises';
import path from 'node:path';
import { BadUserInputError } from '../errors.js';

/**
 * A run's `data_dir` parameter may only point into its strategy's own folder or one of
 * DATA_DIRS (CONTRACT §1): the service runs scripts for whoever may submit, and a script reads
 * whatever folder it is handed. Checked at submission, after `..` and symlinks are resolved;
 * the run then gets the resolved folder, so what was checked is what the script reads.
 */

const PARAMETER = 'data_dir';

export async function confineDataDir(
  parameters: Record<string, unknown>,
  strategy: { readonly name: string; readonly directory: string },
  dataDirs: readonly string[],
): Promise<Record<string, unknown>> {
  const strategyDirectory = strategy.directory;
  const requested = parameters[PARAMETER];
  if (typeof requested !== 'string' || requested === '') return parameters;
  const allowed = [strategyDirectory, ...dataDirs];
  const refuse = (why: string): never => {
    const message = `${why}; runs may read data only inside: ${allowed.join(', ')} (the strategy's folder and DATA_DIRS)`;
    throw new BadUserInputError(`Invalid parameters for strategy "${strategy.name}": parameters.${PARAMETER} ${message}`, [
      { field: `parameters.${PARAMETER}`, message },
    ]);
  };
  // Relative folders mean what they mean to the script, which runs from its manifest's folder.
  const lexical = path.resolve(strategyDirectory, requested);
  // Refused before touching the disk, so the answer says nothing about folders outside.
  if (!allowed.some((root) => isInside(root, lexical))) refuse(`"${requested}" is outside the allowed folders`);
  let real: string;
  try {
    real = await fs.realpath(lexical);
  } catch {
    return refuse(`"${requested}" is not an existing folder`);
  }
  const realRoots = await Promise.all(allowed.map((root) => fs.realpath(root).catch(() => undefined)));
  if (!realRoots.some((root) => root !== undefined && isInside(root, real))) {
    refuse(`"${requested}" leads outside the allowed folders (through a symbolic link)`);
  }
  const stat = await fs.stat(real).catch(() => undefined);
  if (!stat?.isDirectory()) refuse(`"${requested}" is not a folder`);
  return { ...parameters, [PARAMETER]: real };
}

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === '' || (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}
