import { useMemo, useState } from 'react';
import { saveFile } from './save-file.js';

/**
 * A run's result: a screener's ranked rows as a sortable table (the first array of objects in
 * the result), the raw JSON, and CSV / JSON downloads.
 */

type Row = Record<string, unknown>;

export function ResultView({ result, runId }: { result: unknown; runId: string }) {
  const table = useMemo(() => findRows(result), [result]);
  return (
    <section aria-labelledby="result-heading" className="card">
      <h2 id="result-heading">Result</h2>
      {table ? <ResultTable name={table.name} rows={table.rows} runId={runId} /> : <p className="muted">No table in this result.</p>}
      <details>
        <summary>Raw JSON</summary>
        <pre className="json" data-testid="result-json" tabIndex={0}>{JSON.stringify(result, null, 2)}</pre>
      </details>
      <div className="actions">
        <button type="button" onClick={() => saveFile(`run-${runId}-result.json`, JSON.stringify(result, null, 2), 'application/json')}>
          Download JSON
        </button>
      </div>
    </section>
  );
}

function ResultTable({ name, rows, runId }: { name: string; rows: Row[]; runId: string }) {
  const columns = useMemo(() => [...new Set(rows.flatMap((row) => Object.keys(row)))].filter((key) => isScalar(rows[0]?.[key])), [rows]);
  const [sort, setSort] = useState<{ column: string; descending: boolean } | undefined>();
  const sorted = useMemo(() => {
    if (!sort) return rows;
    const direction = sort.descending ? -1 : 1;
    return [...rows].sort((a, b) => direction * compare(a[sort.column], b[sort.column]));
  }, [rows, sort]);
  return (
    <>
      <div className="table-scroll" tabIndex={0} role="region" aria-label={`${name} table`}>
        <table className="result-table">
          <caption>
            {name} ({rows.length})
          </caption>
          <thead>
            <tr>
              {columns.map((column) => {
                const active = sort?.column === column;
                return (
                  <th key={column} scope="col" aria-sort={active ? (sort.descending ? 'descending' : 'ascending') : 'none'}>
                    <button type="button" className="link" onClick={() => setSort({ column, descending: active ? !sort.descending : false })}>
                      {column}
                      <span aria-hidden="true">{active ? (sort.descending ? ' ▼' : ' ▲') : ''}</span>
                    </button>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {sorted.map((row, index) => (
              <tr key={index}>
                {columns.map((column) => (
                  <td key={column}>{formatCell(row[column])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="actions">
        <button type="button" onClick={() => saveFile(`run-${runId}-${name}.csv`, toCsv(columns, rows), 'text/csv')}>
          Download CSV
        </button>
      </div>
    </>
  );
}

function findRows(result: unknown): { name: string; rows: Row[] } | undefined {
  const isRows = (value: unknown): value is Row[] =>
    Array.isArray(value) && value.length > 0 && value.every((item) => item && typeof item === 'object' && !Array.isArray(item));
  if (isRows(result)) return { name: 'rows', rows: result };
  if (result && typeof result === 'object') {
    for (const [key, value] of Object.entries(result)) if (isRows(value)) return { name: key, rows: value };
  }
  return undefined;
}

function isScalar(value: unknown): boolean {
  return value === null || value === undefined || ['string', 'number', 'boolean'].includes(typeof value);
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a ?? '').localeCompare(String(b ?? ''), undefined, { numeric: true });
}

function formatCell(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(2);
  if (value === null || value === undefined) return '';
  return String(value);
}

function toCsv(columns: string[], rows: Row[]): string {
  const cell = (value: unknown) => {
    const text = value === null || value === undefined ? '' : String(value);
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return [columns.map(cell).join(','), ...rows.map((row) => columns.map((column) => cell(row[column])).join(','))].join('\n');
}
