/** How the picture bench writes: its progress lines, durations in seconds, numbers for the report. */

export const log = (line: string) => console.log(`[bench:picture] ${line}`);
export const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
export const round2 = (x: number) => Math.round(x * 100) / 100;
