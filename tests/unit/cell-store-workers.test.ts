import { describe, expect, it } from 'vitest';
import { CellStore, FAILED } from '../../app/client/cell-store';
import { hexOf, workerRgb } from '../../app/client/worker-palette';
import { UNKNOWN_WORKER } from '../../app/client/worker-tally';

const cell = (row: number, col: number, color = '#123456') => ({ row, col, color });

describe('CellStore: who recorded each finished cell', () => {
  it('attributes an event’s cells to its worker and a snapshot’s cells through cellWorkers', () => {
    const store = new CellStore(2, 3);
    store.applyFinished([cell(0, 0), cell(0, 1)], 'w-2');
    store.applyFinished([cell(0, 2), cell(1, 0), cell(1, 1)], { workers: ['w-1', 'w-2'], cellWorkers: [0, 1, 0] });
    expect([0, 1, 2, 3, 4, 5].map((i) => store.workers.nameOf(i))).toEqual(['w-2', 'w-2', 'w-1', 'w-2', 'w-1', null]);
    // Slots in the order first heard: w-2 first.
    expect(store.workers.names).toEqual(['w-2', 'w-1']);
    expect(store.workers.counts).toEqual([3, 2]);
    expect(store.workers.attributed).toBe(5);
    expect(store.finished).toBe(5);
  });

  it('counts a replayed cell once, keeps the first worker, and learns a worker a cell arrived without', () => {
    const store = new CellStore(1, 2);
    store.applyFinished([cell(0, 0)], 'w-1');
    store.applyFinished([cell(0, 0)], 'w-2');
    store.applyFinished([cell(0, 1)]);
    expect(store.workers.nameOf(1)).toBeNull();
    expect(store.workers.attributed).toBe(1);
    store.applyFinished([cell(0, 1)], { workers: ['w-2'], cellWorkers: [0] });
    expect([store.workers.nameOf(0), store.workers.nameOf(1)]).toEqual(['w-1', 'w-2']);
    expect(store.workers.counts).toEqual([1, 1]);
    expect(store.finished).toBe(2);
  });

  it('ignores a malformed mapping (wrong length, bad index) rather than misattributing', () => {
    const store = new CellStore(1, 3);
    store.applyFinished([cell(0, 0), cell(0, 1)], { workers: ['w-1'], cellWorkers: [0] });
    store.applyFinished([cell(0, 2)], { workers: ['w-1'], cellWorkers: [7] });
    expect(store.finished).toBe(3);
    expect(store.workers.attributed).toBe(0);
  });

  it('never gives a failed cell a worker', () => {
    const store = new CellStore(1, 1);
    store.applyFailed([{ row: 0, col: 0, error: 'boom' }]);
    store.applyFinished([cell(0, 0)], 'w-1');
    expect(store.colors[0]).toBe(FAILED);
    expect(store.workers.of[0]).toBe(UNKNOWN_WORKER);
  });
});

describe('worker colours', () => {
  it('are distinct for the first hundred workers and differ from the unknown grey', () => {
    const colors = Array.from({ length: 100 }, (_, k) => hexOf(workerRgb(k + 1)));
    expect(new Set(colors).size).toBe(100);
    expect(colors).not.toContain(hexOf(workerRgb(UNKNOWN_WORKER)));
    for (const c of colors) expect(c).toMatch(/^#[0-9A-F]{6}$/);
  });
});
