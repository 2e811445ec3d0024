import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { PngEncoder, encodePng, type PngFilter } from '../../lib/pictures/png';
import { decodePng } from '../../lib/pictures/png-decode';

/** Deterministic bytes: a small LCG, so failures reproduce. */
function noise(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** A picture-like image: smooth gradients, a flat area, some fully transparent pixels. */
function scene(width: number, height: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      const flat = x < width / 3;
      rgba[o] = flat ? 0 : (x * 7) & 0xff;
      rgba[o + 1] = flat ? 0 : (y * 5) & 0xff;
      rgba[o + 2] = flat ? 0 : (x + y) & 0xff;
      rgba[o + 3] = (x + y) % 5 === 0 ? 0 : 255;
    }
  }
  return rgba;
}

async function encodeInBands(
  width: number,
  height: number,
  rgba: Uint8Array,
  bands: number[],
  options: { filter?: PngFilter; idatSize?: number } = {},
) {
  const parts: Buffer[] = [];
  const encoder = new PngEncoder({ width, height, ...options }, (part) => {
    parts.push(part);
  });
  let row = 0;
  for (const count of bands) {
    await encoder.writeRows(rgba.subarray(row * width * 4, (row + count) * width * 4), count);
    row += count;
  }
  await encoder.finish();
  return { png: Buffer.concat(parts), parts };
}

function chunkTypes(png: Buffer): Array<{ type: string; length: number }> {
  const chunks = [];
  for (let o = 8; o < png.length;) {
    const length = png.readUInt32BE(o);
    chunks.push({ type: png.toString('latin1', o + 4, o + 8), length });
    o += 12 + length;
  }
  return chunks;
}

describe('PngEncoder', () => {
  it('round-trips a single pixel', async () => {
    const png = await encodePng(1, 1, Uint8Array.of(0x12, 0x34, 0x56, 0x78));
    expect(decodePng(png)).toEqual({ width: 1, height: 1, rgba: Uint8Array.of(0x12, 0x34, 0x56, 0x78) });
  });

  it('round-trips odd sizes byte for byte with every filter, transparent pixels included', async () => {
    const filters: PngFilter[] = ['adaptive', 'none', 'sub', 'up', 'average', 'paeth'];
    for (const [width, height] of [
      [3, 5],
      [17, 1],
      [1, 13],
      [37, 29],
      [101, 7],
    ]) {
      for (const rgba of [scene(width, height), noise(width * height * 4, width * height)]) {
        for (const filter of filters) {
          const png = await encodePng(width, height, rgba, { filter });
          const decoded = decodePng(png);
          expect(decoded.width).toBe(width);
          expect(decoded.height).toBe(height);
          expect(Buffer.from(decoded.rgba).equals(Buffer.from(rgba)), `${width}×${height} ${filter}`).toBe(true);
        }
      }
    }
  });

  it('gives identical bytes for identical pixels, however the rows are fed', async () => {
    const [width, height] = [150, 120];
    const rgba = scene(width, height);
    for (const filter of ['none', 'adaptive'] as const) {
      const options = { idatSize: 1000, filter };
      const whole = await encodeInBands(width, height, rgba, [height], options);
      const again = await encodeInBands(width, height, rgba, [height], options);
      const rowByRow = await encodeInBands(width, height, rgba, Array(height).fill(1), options);
      const uneven = await encodeInBands(width, height, rgba, [7, 0, 50, 1, 62], options);
      expect(again.png.equals(whole.png), filter).toBe(true);
      expect(rowByRow.png.equals(whole.png), filter).toBe(true);
      expect(uneven.png.equals(whole.png), filter).toBe(true);
      expect(Buffer.from(decodePng(whole.png).rgba).equals(Buffer.from(rgba)), filter).toBe(true);
    }
  });

  it('writes signature and IHDR, IDATs of the fixed size, then IEND', async () => {
    const [width, height] = [64, 64];
    const { png } = await encodeInBands(width, height, noise(width * height * 4), [height], { idatSize: 4096 });
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const chunks = chunkTypes(png);
    expect(chunks[0]).toEqual({ type: 'IHDR', length: 13 });
    expect(chunks.at(-1)).toEqual({ type: 'IEND', length: 0 });
    const idats = chunks.slice(1, -1);
    expect(idats.every((c) => c.type === 'IDAT')).toBe(true);
    // 16 KiB of noise does not compress: several chunks, all full but the last.
    expect(idats.length).toBeGreaterThan(3);
    expect(idats.slice(0, -1).every((c) => c.length === 4096)).toBe(true);
    expect(idats.at(-1)!.length).toBeGreaterThan(0);
    expect(idats.at(-1)!.length).toBeLessThanOrEqual(4096);
  });

  it('compresses a picture-like image better with adaptive filters than with none', async () => {
    const rgba = scene(300, 200);
    const adaptive = await encodePng(300, 200, rgba, { filter: 'adaptive' });
    const none = await encodePng(300, 200, rgba, { filter: 'none' });
    expect(adaptive.length).toBeLessThan(none.length);
  });

  it('refuses too many rows, too few, overlapping calls and bad sizes', async () => {
    expect(() => new PngEncoder({ width: 0, height: 1 }, () => undefined)).toThrow(/width/);
    expect(() => new PngEncoder({ width: 1, height: 1.5 }, () => undefined)).toThrow(/height/);
    const encoder = new PngEncoder({ width: 2, height: 2 }, () => undefined);
    await expect(encoder.writeRows(new Uint8Array(3 * 2 * 4), 3)).rejects.toThrow(/2 rows high/);
    await expect(encoder.writeRows(new Uint8Array(4), 1)).rejects.toThrow(/need 8 bytes/);
    const first = encoder.writeRows(new Uint8Array(2 * 4), 1);
    await expect(encoder.writeRows(new Uint8Array(2 * 4), 1)).rejects.toThrow(/await writeRows/);
    await first;
    await expect(encoder.finish()).rejects.toThrow(/only 1 were written/);
  });

  it('does not run ahead of a slow sink', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let idats = 0;
    const parts: Buffer[] = [];
    const [width, height] = [1024, 2048];
    const encoder = new PngEncoder({ width, height }, async (part) => {
      parts.push(part);
      if (part.toString('latin1', 4, 8) === 'IDAT') {
        idats++;
        await gate;
      }
    });
    // 8 MiB of noise is about 8 MiB of output: far more than the encoder may hold.
    const rgba = noise(width * height * 4);
    let written = false;
    const writing = encoder.writeRows(rgba).then(() => (written = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(written).toBe(false);
    expect(idats).toBe(1);
    release();
    await writing;
    await encoder.finish();
    expect(Buffer.from(decodePng(Buffer.concat(parts)).rgba).equals(Buffer.from(rgba))).toBe(true);
  });

  it('rejects, and does not hang, when the sink fails', async () => {
    const encoder = new PngEncoder({ width: 512, height: 512 }, (part) => {
      if (part.toString('latin1', 4, 8) === 'IDAT') throw new Error('disk full');
    });
    const attempt = (async () => {
      for (let band = 0; band < 8; band++) await encoder.writeRows(noise(512 * 64 * 4, band + 1), 64);
      await encoder.finish();
    })();
    await expect(attempt).rejects.toThrow(/disk full|PNG encoder failed/);
  });

  it('encodes 4096 × 4096 fed band by band without holding the image', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const [width, height, band] = [4096, 4096, 64];
    const raw = width * height * 4;
    let output = 0;
    // Level 1 keeps the test quick; the memory bound does not depend on the level.
    const encoder = new PngEncoder({ width, height, level: 1 }, async (part) => {
      output += part.length;
      // An async sink, as a database write is: the encoder must wait for it.
      await new Promise((resolve) => setImmediate(resolve));
    });
    // Noise does not compress, so the whole 64 MiB really flows through zlib and the sink.
    const rows = noise(width * band * 4);
    // Buffers' memory is released a moment after the collection that finds them dead.
    const used = async () => {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.external;
    };
    const baseline = await used();
    let peak = 0;
    for (let y = 0; y < height; y += band) {
      rows[y % rows.length] ^= y; // not the same band every time
      await encoder.writeRows(rows, band);
      if ((y / band) % 8 === 0) peak = Math.max(peak, (await used()) - baseline);
    }
    await encoder.finish();
    expect(output).toBeGreaterThan(raw);
    // The encoder holds two rows, a 64 KiB block, one IDAT and zlib's state: a few MiB at most
    // (about 1 MiB measured), against 64 MiB for the whole image.
    expect(peak).toBeLessThan(raw / 8);
  }, 30_000);
});
