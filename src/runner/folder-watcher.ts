import fs from 'node:fs';
import type { Logger } from '../logger.js';

/**
 * Calls `onChange` once things settle after anything changes in one of `folders` (not their
 * subfolders). Editors save in bursts (write, rename, chmod), hence the debounce. Watching never
 * keeps the process alive, and a folder that cannot be watched is reported, not fatal.
 */
export class FolderWatcher {
  private readonly watchers: fs.FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    folders: readonly string[],
    private readonly onChange: () => void,
    private readonly options: { log: Logger; /** @default 200 */ debounceMs?: number },
  ) {
    for (const folder of folders) {
      try {
        const watcher = fs.watch(folder, { persistent: false }, () => this.changed());
        watcher.on('error', (err) => options.log.warn({ err, folder }, 'stopped watching a strategies folder'));
        this.watchers.push(watcher);
      } catch (err) {
        options.log.warn({ err, folder }, 'cannot watch a strategies folder; restart to pick up its changes');
      }
    }
  }

  private changed(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onChange(), this.options.debounceMs ?? 200);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const watcher of this.watchers.splice(0)) watcher.close();
  }
}
