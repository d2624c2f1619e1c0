import fs from 'node:fs/promises';
import path from 'node:path';
import { BadUserInputError, NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import { FolderWatcher } from './folder-watcher.js';
import { checkConstraints } from './parameter-constraints.js';
import { MANIFEST_SUFFIX, parseManifest, type RegisteredStrategy, registerManifest, type Strategy, toFieldProblem } from './strategy-manifest.js';

export type { Strategy } from './strategy-manifest.js';

/**
 * The strategies that may run: one manifest `NAME.strategy.json` each, found in the folders of
 * STRATEGIES_DIR (CONTRACT §2). A broken manifest is reported and skipped; it never takes the
 * service down. With `watch`, manifests added, changed or removed while the server runs are
 * picked up; a manifest that breaks keeps its previous version registered until it is fixed.
 * Parameters are validated here, defaults and constraints applied, before anything is queued.
 */

export interface ManifestProblem {
  readonly file: string;
  readonly message: string;
}

export interface RegistryOptions {
  /** Reload when the folders change. @default false */
  watch?: boolean;
  /** Quiet time after a change before reloading. @default 200 */
  debounceMs?: number;
}

/** What the registry knows about one manifest file. */
interface FileState {
  /** Its text and the times its command's files changed: equal means nothing to redo. */
  readonly fingerprint: string;
  /** The last version that registered, kept while a later one is broken. */
  readonly good: RegisteredStrategy | undefined;
  readonly problem: string | undefined;
}

export class StrategyRegistry {
  private strategies = new Map<string, RegisteredStrategy>();
  private files = new Map<string, FileState>();
  private currentProblems: readonly ManifestProblem[] = [];
  private reloading: Promise<unknown> = Promise.resolve();
  private watcher: FolderWatcher | undefined;
  private loaded = false;

  private constructor(
    private readonly directories: readonly string[],
    private readonly log: Logger,
  ) {}

  static async load(directories: readonly string[], log: Logger, options: RegistryOptions = {}): Promise<StrategyRegistry> {
    const registry = new StrategyRegistry(directories, log);
    await registry.reload();
    log.info({ strategies: registry.names() }, 'strategies registered');
    if (options.watch) {
      const reload = () => void registry.reload().catch((err) => log.error({ err }, 'reloading strategies failed'));
      registry.watcher = new FolderWatcher(directories, reload, { log, debounceMs: options.debounceMs });
    }
    return registry;
  }

  /** Manifests skipped (or kept at their previous version) at the last reload, and why. */
  get problems(): readonly ManifestProblem[] {
    return this.currentProblems;
  }

  /** Reads the folders again; one reload at a time, in the order asked. */
  reload(): Promise<void> {
    const next = this.reloading.then(() => this.scan());
    this.reloading = next.catch(() => {});
    return next;
  }

  /** Stops watching the folders. */
  close(): void {
    this.watcher?.close();
  }

  private async scan(): Promise<void> {
    const found = new Map<string, RegisteredStrategy>();
    const files = new Map<string, FileState>();
    const problems: ManifestProblem[] = [];
    for (const directory of this.directories) {
      let names: string[];
      try {
        names = (await fs.readdir(directory)).filter((f) => f.endsWith(MANIFEST_SUFFIX)).sort();
      } catch (error) {
        problems.push({ file: directory, message: `cannot read folder: ${(error as Error).message}` });
        continue;
      }
      for (const name of names) {
        const file = path.join(directory, name);
        const state = await this.examine(file, directory, (strategy) => found.has(strategy));
        if (!state) continue; // gone since readdir
        files.set(file, state);
        if (state.problem) problems.push({ file, message: state.problem });
        const entry = state.good;
        if (!entry) continue;
        if (found.has(entry.strategy.name)) {
          problems.push({ file, message: `duplicate strategy name "${entry.strategy.name}" (the first one found is kept)` });
          continue;
        }
        found.set(entry.strategy.name, entry);
      }
    }
    this.report(found, problems);
    this.strategies = found;
    this.files = files;
    this.currentProblems = problems;
    this.loaded = true;
  }

  /** The file's state now, reusing what an unchanged file already gave. */
  private async examine(file: string, directory: string, taken: (name: string) => boolean): Promise<FileState | undefined> {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      return { fingerprint: '', good: this.files.get(file)?.good, problem: `cannot read: ${(error as Error).message}` };
    }
    const fingerprint = await fingerprintOf(text, directory);
    const previous = this.files.get(file);
    if (previous?.fingerprint === fingerprint) return previous;
    try {
      const manifest = parseManifest(text);
      if (taken(manifest.name)) {
        // Not remembered (empty fingerprint): it registers once the other one goes away.
        return { fingerprint: '', good: undefined, problem: `duplicate strategy name "${manifest.name}" (the first one found is kept)` };
      }
      return { fingerprint, good: await registerManifest(manifest, directory), problem: undefined };
    } catch (error) {
      const kept = previous?.good ? ' (its previous version stays registered)' : '';
      return { fingerprint, good: previous?.good, problem: `${(error as Error).message}${kept}` };
    }
  }

  private report(found: ReadonlyMap<string, RegisteredStrategy>, problems: readonly ManifestProblem[]): void {
    const before = new Set(this.currentProblems.map((p) => `${p.file}\n${p.message}`));
    for (const problem of problems) {
      if (!before.has(`${problem.file}\n${problem.message}`)) {
        this.log.error({ manifest: problem.file }, `strategy manifest problem: ${problem.message}`);
      }
    }
    if (!this.loaded) return; // the first load: `load` logs the list
    const added = [...found.keys()].filter((name) => !this.strategies.has(name));
    const removed = [...this.strategies.keys()].filter((name) => !found.has(name));
    const changed = [...found].filter(([name, entry]) => this.strategies.has(name) && this.strategies.get(name) !== entry).map(([n]) => n);
    if (added.length || removed.length || changed.length) this.log.info({ added, changed, removed }, 'strategies reloaded');
  }

  list(): Strategy[] {
    return [...this.strategies.values()].map((entry) => entry.strategy);
  }

  names(): string[] {
    return [...this.strategies.keys()];
  }

  has(name: string): boolean {
    return this.strategies.has(name);
  }

  find(name: string): Strategy | undefined {
    return this.strategies.get(name)?.strategy;
  }

  /** @throws NotFoundError */
  get(name: string): Strategy {
    return this.entry(name).strategy;
  }

  private entry(name: string): RegisteredStrategy {
    const entry = this.strategies.get(name);
    if (!entry) throw new NotFoundError(`Unknown strategy "${name}". Known strategies: ${[...this.strategies.keys()].join(', ') || 'none'}.`);
    return entry;
  }

  /**
   * Checks `parameters` against the strategy's schema, then its cross-field constraints, and
   * returns them with defaults applied.
   * @throws NotFoundError for an unknown strategy, BadUserInputError listing every problem.
   */
  validateParameters(name: string, parameters: unknown): Record<string, unknown> {
    const { validate, constraints } = this.entry(name);
    if (parameters === null || parameters === undefined) parameters = {};
    if (typeof parameters !== 'object' || Array.isArray(parameters)) {
      throw new BadUserInputError('parameters must be a JSON object', [{ field: 'parameters', message: 'must be an object' }]);
    }
    const copy = structuredClone(parameters) as Record<string, unknown>;
    // Constraints compare values the schema has already typed, as the scripts' own checks do.
    const details = validate(copy) ? checkConstraints(constraints, copy) : (validate.errors ?? []).map(toFieldProblem);
    if (details.length === 0) return copy;
    throw new BadUserInputError(
      `Invalid parameters for strategy "${name}": ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`,
      details,
    );
  }
}

/**
 * The manifest's text plus the modification times of the files its command names: a script
 * that prints its schema with `--describe` is asked again when it changes, and only then.
 */
async function fingerprintOf(text: string, directory: string): Promise<string> {
  let command: unknown;
  try {
    command = (JSON.parse(text) as { command?: unknown }).command;
  } catch {
    return text;
  }
  if (!Array.isArray(command)) return text;
  const times = await Promise.all(
    command.map((arg) =>
      typeof arg === 'string'
        ? fs.stat(path.resolve(directory, arg)).then((s) => String(s.mtimeMs), () => '-')
        : '-',
    ),
  );
  return `${text}\n${times.join(',')}`;
}
