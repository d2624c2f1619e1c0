import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('has defaults for everything: zero set-up', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      databaseUrl: undefined,
      redisUrl: undefined,
      maxConcurrentRuns: 2,
    });
    expect(config.dataDir).toMatch(/\/\.data$/);
    expect(config.strategiesDirs).toEqual([expect.stringMatching(/\/strategies$/)]);
    expect(config.dataDirs).toEqual([]);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('splits STRATEGIES_DIR and DATA_DIRS on ":" and treats empty variables as unset', () => {
    const config = loadConfig({ STRATEGIES_DIR: '/a:/b', DATA_DIRS: '/data/csv::/mnt/prices/../q', PORT: '', DATABASE_URL: '' });
    expect(config.strategiesDirs).toEqual(['/a', '/b']);
    expect(config.dataDirs).toEqual(['/data/csv', '/mnt/q']);
    expect(config.port).toBe(4000);
    expect(config.databaseUrl).toBeUndefined();
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', MAX_CONCURRENT_RUNS: '0', DATABASE_URL: 'mysql://x', REDIS_URL: 'http://r', LOG_LEVEL: 'loud' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const variable of ['PORT', 'MAX_CONCURRENT_RUNS', 'DATABASE_URL', 'REDIS_URL', 'LOG_LEVEL']) expect(problems).toContain(variable);
    expect((error as ConfigError).message).toContain('must be a postgres:// URL');
  });

  it('several instances: liveness, limits and outage settings, with a takeover never sooner than three heartbeats', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      heartbeatMs: 2000,
      takeoverAfterMs: 10_000,
      maxConcurrentRunsTotal: 0,
      eventBufferBytes: 16 * 1024 * 1024,
      eventOutageLimitMs: 300_000,
      busFallbackPollMs: 200,
    });
    // Unique per start, even with the same pid (pid 1 in every container).
    expect(config.instanceId).toMatch(/^[^:]+:\d+:[0-9a-f]{6}$/);
    expect(loadConfig({}).instanceId).not.toBe(config.instanceId);
    expect(() => loadConfig({ HEARTBEAT_MS: '5000', TAKEOVER_AFTER_MS: '10000' })).toThrow(/TAKEOVER_AFTER_MS: must be at least 3 × HEARTBEAT_MS/);
  });
});

describe('RETENTION_DAYS and RETENTION_BATCH_SIZE', () => {
  it('default to 30 days and 500 runs a batch; 0 days keeps everything; bad values are refused', () => {
    expect(loadConfig({})).toMatchObject({ retentionDays: 30, retentionBatchSize: 500 });
    expect(loadConfig({ RETENTION_DAYS: '0', RETENTION_BATCH_SIZE: '50' })).toMatchObject({ retentionDays: 0, retentionBatchSize: 50 });
    expect(() => loadConfig({ RETENTION_DAYS: '-1', RETENTION_BATCH_SIZE: '0' })).toThrow(/RETENTION_DAYS[\s\S]*RETENTION_BATCH_SIZE/);
  });
});
