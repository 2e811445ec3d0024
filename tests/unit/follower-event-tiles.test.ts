import { describe, expect, it } from 'vitest';
import { putEventTiles } from '../../app/client/event-tiles';
import { TileStore } from '../../app/client/tile-store';

const cell = (row: number, col: number) => ({ row, col, color: '#000000' });

describe('putEventTiles: a cells:colored event’s attachment into the picture', () => {
  it('puts each tile, in the order of the event’s cells, where its cell is', () => {
    const tiles = new TileStore(2, 2, 1);
    const attachment = new Uint8Array([1, 2, 3, 4, 5, 6]);
    putEventTiles(tiles, [cell(1, 1), cell(0, 0)], attachment.buffer);
    expect([...tiles.has]).toEqual([1, 0, 0, 1]);
    expect([...tiles.pixels.subarray(9, 12)]).toEqual([1, 2, 3]);
    expect([...tiles.pixels.subarray(0, 3)]).toEqual([4, 5, 6]);
  });

  it('reads a view into a larger buffer (Node’s Buffer) from its own offset', () => {
    const tiles = new TileStore(1, 1, 1);
    const backing = new Uint8Array([9, 9, 7, 8, 9]);
    putEventTiles(tiles, [cell(0, 0)], backing.subarray(2));
    expect([...tiles.pixels]).toEqual([7, 8, 9]);
  });

  it('leaves the picture alone when the attachment does not hold one tile per cell, or is missing', () => {
    const tiles = new TileStore(1, 2, 1);
    putEventTiles(tiles, [cell(0, 0), cell(0, 1)], new Uint8Array([1, 2, 3]));
    putEventTiles(tiles, [cell(0, 0)], undefined);
    expect(tiles.count).toBe(0);
  });
});
