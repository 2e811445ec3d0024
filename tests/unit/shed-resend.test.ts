import { Server } from 'socket.io';
import { describe, expect, it } from 'vitest';
import { readBatchEvent } from '../../web/realtime/shed-resend';

// The slow-reader filter reads events as Socket.IO encodes them: these encodings come from
// Socket.IO's own encoder, so an update that changes them fails here.

// Never attached nor listening: only its encoder is used.
const io = new Server();

/** Encodes an event as the server writes it to a connection: the packets of one write. */
const encode = (nsp: string, name: string, payload: unknown): unknown[] =>
  (io as unknown as { encoder: { encode(packet: unknown): unknown[] } }).encoder.encode({ type: 2, nsp, data: [name, payload] });

describe('readBatchEvent', () => {
  it('reads a text event: name, batch and number', () => {
    const [packet] = encode('/', 'cells:colored', { batchId: 'b-1', seq: 42, cells: [{ row: 0, col: 1, color: '#123456' }], worker: 'w' });
    expect(readBatchEvent(packet as string)).toEqual({ name: 'cells:colored', batchId: 'b-1', seq: 42 });
  });

  it('reads an event with tiles from its header, the first packet of the write', () => {
    const packets = encode('/', 'cells:colored', {
      batchId: 'b-2',
      seq: 7,
      cells: [{ row: 0, col: 0, color: '#000000' }],
      tiles: Buffer.alloc(12),
    });
    expect(packets).toHaveLength(2);
    expect(packets[1]).toBeInstanceOf(Buffer);
    expect(readBatchEvent(packets[0] as string)).toEqual({ name: 'cells:colored', batchId: 'b-2', seq: 7 });
  });

  it('reads a failure and a completion whatever the order of their fields', () => {
    const [failed] = encode('/', 'cells:failed', { batchId: 'b-3', seq: 9, cells: [{ row: 1, col: 1, error: 'boom "seq":1' }] });
    expect(readBatchEvent(failed as string)).toEqual({ name: 'cells:failed', batchId: 'b-3', seq: 9 });
    const [completed] = encode('/', 'batch:completed', { batchId: 'b-3', status: 'completed', total: 4, seq: 10 });
    expect(readBatchEvent(completed as string)).toEqual({ name: 'batch:completed', batchId: 'b-3', seq: 10 });
  });

  it('leaves other events and other namespaces alone', () => {
    expect(readBatchEvent(encode('/', 'batch:activity', { batchId: 'b-1', total: 1 })[0] as string)).toBeNull();
    expect(readBatchEvent(encode('/dashboard', 'cells:colored', { batchId: 'b-1', seq: 1 })[0] as string)).toBeNull();
    expect(readBatchEvent('3[{"ok":true}]')).toBeNull();
  });
});
