/** A parsed Prometheus text exposition: `value(name, labels)` sums the matching samples. */
export interface Scrape {
  readonly text: string;
  readonly samples: ReadonlyArray<{ name: string; labels: Record<string, string>; value: number }>;
  /** Sum of the samples named `name` whose labels include `labels`; undefined when none exist. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

export async function scrapeMetrics(url: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const response = await fetch(`${url}/metrics`, { headers });
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  if (!response.headers.get('content-type')?.startsWith('text/plain')) throw new Error('/metrics is not Prometheus text');
  return parseMetrics(await response.text());
}

export function parseMetrics(text: string): Scrape {
  const samples = text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
  return {
    text,
    samples,
    value(name, labels = {}) {
      const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      return found.length ? found.reduce((sum, s) => sum + s.value, 0) : undefined;
    },
  };
}
