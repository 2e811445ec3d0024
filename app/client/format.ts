// Fixed locale: the server renders the same digits as the browser, and tests can match "10,000".
const counts = new Intl.NumberFormat('en-US');

export const formatCount = (n: number): string => counts.format(n);

/** Two decimals while a batch is quick ("0.42 s"), one once tenths are all that matter. */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** A span a person reads at a glance: "0.42 s", "12.3 s", "4 min 05 s", "2 h 10 min". */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return formatSeconds(Math.max(0, ms));
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** How long ago, from a reference time (the server's), in whole seconds up to a minute. */
export function formatAgo(iso: string, nowIso: string): string {
  const ms = Math.max(0, Date.parse(nowIso) - Date.parse(iso));
  return ms < 60_000 ? `${Math.floor(ms / 1000)} s ago` : `${formatDuration(ms)} ago`;
}

/** Cells per second: whole numbers, but one decimal below 10 so a trickle does not read as 0. */
export function formatRate(perSecond: number): string {
  return perSecond > 0 && perSecond < 10 ? perSecond.toFixed(1) : formatCount(Math.round(perSecond));
}
