import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from 'playwright-core';

/** Helpers for driving the web dashboard in the browser tests. */

/** Records every content security policy violation the page meets (before any script runs). */
export async function recordCspViolations(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
    document.addEventListener('securitypolicyviolation', (event) => seen.push(`${event.violatedDirective} ${event.blockedURI}`));
  });
}

export function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __cspViolations?: string[] }).__cspViolations ?? []);
}

/** axe-core's serious and critical findings on the page as it is now, one line each. */
export async function seriousAccessibilityViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.impact} ${violation.id}: ${violation.help} (${violation.nodes.map((node) => node.target.join(' ')).join(', ')})`);
}

/**
 * Every log line's seq, reading the virtualized log from top to bottom (only the rows in view
 * are in the page at any time).
 */
export async function logSeqs(page: Page): Promise<number[]> {
  return page.evaluate(async () => {
    const log = document.querySelector<HTMLElement>('[role="log"]');
    if (!log) throw new Error('no log');
    const frame = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    const seqs = new Set<number>();
    log.scrollTop = 0;
    for (;;) {
      await frame();
      for (const row of log.querySelectorAll<HTMLElement>('[data-seq]')) seqs.add(Number(row.dataset.seq));
      if (log.scrollTop + log.clientHeight >= log.scrollHeight - 1) break;
      log.scrollTop += log.clientHeight;
    }
    return [...seqs].sort((a, b) => a - b);
  });
}

/** The seqs of the stored events the log shows (progress events without a message have no line). */
export function expectedLogSeqs(events: ReadonlyArray<Record<string, unknown> & { seq: number }>): number[] {
  return events.filter((event) => event.event_type !== 'progress' || !!event.message).map((event) => event.seq);
}
