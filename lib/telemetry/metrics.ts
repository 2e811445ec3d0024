import { type Counter, type Histogram, type MeterProvider, metrics } from '@opentelemetry/api';
import type { BatchStatus } from '../types';

/**
 * Our own OpenTelemetry instruments, beside the ones pg-boss brings. No-ops until an SDK is
 * registered. The global meter provider has no proxy (a meter taken before the SDK registers stays a
 * no-op), so the instruments are made from whichever provider is current, and remade if it changes.
 */

const SCOPE = 'finish-line';

interface Instruments {
  batchesStarted: Counter;
  batchesEnded: Counter;
  batchDuration: Histogram;
  cellsRecorded: Counter;
}

let madeFor: MeterProvider | undefined;
let made: Instruments | undefined;

function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  if (made && provider === madeFor) return made;
  const meter = provider.getMeter(SCOPE);
  madeFor = provider;
  made = {
    batchesStarted: meter.createCounter('finishline.batches.started', { description: 'Batches created.', unit: '{batch}' }),
    batchesEnded: meter.createCounter('finishline.batches.ended', {
      description: 'Batches that reached a terminal status, by status.',
      unit: '{batch}',
    }),
    batchDuration: meter.createHistogram('finishline.batch.duration', {
      description: 'From a batch created to its terminal status.',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600] },
    }),
    cellsRecorded: meter.createCounter('finishline.cells.recorded', {
      description: 'Cells recorded for the first time, by outcome.',
      unit: '{cell}',
    }),
  };
  return made;
}

export function countBatchStarted(priority: number): void {
  instruments().batchesStarted.add(1, { 'finishline.batch.priority': priority });
}

export function countBatchEnded(status: Exclude<BatchStatus, 'running'>, elapsedMs: number): void {
  const i = instruments();
  i.batchesEnded.add(1, { 'finishline.batch.status': status });
  i.batchDuration.record(elapsedMs / 1000, { 'finishline.batch.status': status });
}

export function countCellsRecorded(colored: number, failed: number): void {
  const i = instruments();
  if (colored > 0) i.cellsRecorded.add(colored, { 'finishline.cell.outcome': 'colored' });
  if (failed > 0) i.cellsRecorded.add(failed, { 'finishline.cell.outcome': 'failed' });
}
