const counts = new Intl.NumberFormat('en-US');

export const formatCount = (n: number) => counts.format(n);

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
