import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PublicError } from '../../lib/errors';
import { parseCompleteRequest, parseExtendRequest, parseLeaseRequest } from '../../lib/leases/lease-requests';
import { decodePng } from '../../lib/pictures/png-decode';
import { encodePng } from '../../lib/pictures/png';

const BATCH = '3f0c8a8e-8a55-4a8e-9f6e-1b1f8f0f2a61';

function invalidMessage(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(PublicError);
    expect((err as PublicError).code).toBe('invalid_input');
    return (err as PublicError).message;
  }
  throw new Error('expected invalid_input, got no error');
}

describe('POST /api/leases body', () => {
  it('takes the contract fields, with defaults for what is left out', () => {
    expect(parseLeaseRequest({ tag: 'gpu', max: 5, leaseSeconds: 30 })).toEqual({
      tag: 'gpu',
      max: 5,
      leaseSeconds: 30,
      worker: undefined,
    });
    expect(parseLeaseRequest({})).toEqual({ tag: 'default', max: 100, leaseSeconds: 60, worker: undefined });
    expect(parseLeaseRequest({ worker: 'python-1' }).worker).toBe('python-1');
  });

  it.each([
    ['not an object', []],
    ['null', null],
    ['unknown field', { max: 1, lease: 3 }],
    ['max 0', { max: 0 }],
    ['max above 1000', { max: 1001 }],
    ['max not an integer', { max: 1.5 }],
    ['max a string', { max: '10' }],
    ['max NaN', { max: Number.NaN }],
    ['leaseSeconds 0', { leaseSeconds: 0 }],
    ['leaseSeconds above 600', { leaseSeconds: 601 }],
    ['tag upper case', { tag: 'GPU' }],
    ['tag too long', { tag: 'a'.repeat(33) }],
    ['tag starting with a hyphen', { tag: '-gpu' }],
    ['tag empty', { tag: '' }],
    ['worker with a space', { worker: 'my worker' }],
    ['worker too long', { worker: 'w'.repeat(65) }],
  ])('refuses %s', (_name, body) => {
    expect(invalidMessage(() => parseLeaseRequest(body))).toMatch(/\S/);
  });
});

describe('POST /api/leases/:id/extend body', () => {
  it('needs leaseSeconds 1..600', () => {
    expect(parseExtendRequest({ leaseSeconds: 600 })).toEqual({ leaseSeconds: 600 });
    expect(invalidMessage(() => parseExtendRequest({}))).toMatch(/required/);
    expect(invalidMessage(() => parseExtendRequest({ leaseSeconds: 0 }))).toMatch(/1 to 600/);
    expect(invalidMessage(() => parseExtendRequest({ leaseSeconds: 60, max: 3 }))).toMatch(/Unknown field/);
  });
});

describe('POST /api/leases/:id/complete body', () => {
  it('reads colours (upper-cased), tiles and errors', async () => {
    const png = await encodePng(4, 4, new Uint8Array(4 * 4 * 4).fill(200));
    const { results } = parseCompleteRequest({
      results: [
        { batchId: BATCH.toUpperCase(), row: 0, col: 1, color: '#a1b2c3' },
        { batchId: BATCH, row: 1, col: 1, tile: png.toString('base64') },
        { batchId: BATCH, row: 2, col: 1, error: 'out of memory' },
      ],
    });
    expect(results[0]).toEqual({ batchId: BATCH, row: 0, col: 1, color: '#A1B2C3' });
    expect(decodePng(results[1]!.tile!).width).toBe(4);
    expect(results[2]).toEqual({ batchId: BATCH, row: 2, col: 1, error: 'out of memory' });
    expect(parseCompleteRequest({ results: [] })).toEqual({ results: [] });
  });

  it.each([
    ['no results', {}],
    ['results not an array', { results: {} }],
    [
      'more than 1000 results',
      { results: Array.from({ length: 1001 }, (_, i) => ({ batchId: BATCH, row: i % 1000, col: 0, color: '#000000' })) },
    ],
    ['a bad batch id', { results: [{ batchId: 'x', row: 0, col: 0, color: '#000000' }] }],
    ['a negative row', { results: [{ batchId: BATCH, row: -1, col: 0, color: '#000000' }] }],
    ['a fractional col', { results: [{ batchId: BATCH, row: 0, col: 0.5, color: '#000000' }] }],
    ['no outcome', { results: [{ batchId: BATCH, row: 0, col: 0 }] }],
    ['two outcomes', { results: [{ batchId: BATCH, row: 0, col: 0, color: '#000000', error: 'x' }] }],
    ['a short colour', { results: [{ batchId: BATCH, row: 0, col: 0, color: '#FFF' }] }],
    ['a colour name', { results: [{ batchId: BATCH, row: 0, col: 0, color: 'red' }] }],
    ['an empty error', { results: [{ batchId: BATCH, row: 0, col: 0, error: '' }] }],
    ['a tile that is not base64', { results: [{ batchId: BATCH, row: 0, col: 0, tile: 'not base64!' }] }],
    ['an unknown field', { results: [{ batchId: BATCH, row: 0, col: 0, color: '#000000', worker: 'x' }] }],
    [
      'the same cell twice',
      {
        results: [
          { batchId: BATCH, row: 0, col: 0, color: '#000000' },
          { batchId: BATCH, row: 0, col: 0, color: '#FFFFFF' },
        ],
      },
    ],
  ])('refuses %s', (_name, body) => {
    expect(invalidMessage(() => parseCompleteRequest(body))).toMatch(/\S/);
  });
});

describe('decodePng on what a lease client sends', () => {
  it('refuses a PNG that claims more pixels than allowed before inflating it', () => {
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(100_000, 0);
    ihdr.writeUInt32BE(100_000, 4);
    ihdr.set([8, 2, 0, 0, 0], 8);
    const png = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('IDAT', deflateSync(Buffer.alloc(10))),
      chunk('IEND', Buffer.alloc(0)),
    ]);
    expect(() => decodePng(png, 64 * 64)).toThrow(/above 4096 pixels/);
  });
});

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'latin1'), data])), 0);
  return Buffer.concat([head, data, crc]);
}

function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
