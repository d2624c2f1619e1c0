/** Small formatting helpers shared by the pages. */

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  const date = new Date(iso);
  // Today's times without the date: the lists are read at a glance.
  if (date.toDateString() === new Date().toDateString()) return date.toLocaleTimeString();
  return date.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

export function formatPercent(value: number | null | undefined): string {
  return value == null ? '–' : `${Math.round(value * 10) / 10}%`;
}

export function statusLabel(status: string | null | undefined): string {
  return status ? status.charAt(0) + status.slice(1).toLowerCase() : 'Unknown';
}
