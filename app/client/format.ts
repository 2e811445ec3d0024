// Fixed locale: the server renders the same digits as the browser, and tests can match "10,000".
const counts = new Intl.NumberFormat('en-US');

export const formatCount = (n: number): string => counts.format(n);

/** Two decimals while a batch is quick ("0.42 s"), one once tenths are all that matter. */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
