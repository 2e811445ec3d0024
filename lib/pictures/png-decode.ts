/**
 * A small PNG decoder: 8-bit RGBA or RGB, no interlace, filter types 0–4. It reads the tiles lease
 * clients send (lib/leases), and the tests check our encoder's output with it, independently of
 * the encoder (its own CRC, its own unfiltering). It rejects anything else loudly rather than
 * decoding it wrongly, and a file whose pixels would exceed `maxPixels` before inflating any of it.
 */
import { inflateSync } from 'node:zlib';

export interface DecodedPng {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel, rows from the top (RGB images get alpha 255). */
  rgba: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function decodePng(buf: Buffer, maxPixels = 64 * 1024 * 1024): DecodedPng {
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG: bad signature');
  let offset = 8;
  let header: { width: number; height: number; colorType: number } | undefined;
  const idat: Buffer[] = [];
  let ended = false;
  while (offset < buf.length) {
    if (ended) throw new Error(`PNG has ${buf.length - offset} bytes after IEND`);
    if (offset + 12 > buf.length) throw new Error(`PNG truncated inside a chunk header at byte ${offset}`);
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    const end = offset + 8 + length;
    if (end + 4 > buf.length) throw new Error(`PNG chunk ${type} runs past the end of the file`);
    const data = buf.subarray(offset + 8, end);
    const crc = buf.readUInt32BE(end);
    if (crc !== crc32(buf.subarray(offset + 4, end))) throw new Error(`PNG chunk ${type} at byte ${offset} has a bad CRC`);
    if (type === 'IHDR') {
      if (length !== 13) throw new Error(`IHDR is ${length} bytes, expected 13`);
      const [depth, colorType, compression, filter, interlace] = data.subarray(8, 13);
      if (depth !== 8 || (colorType !== 6 && colorType !== 2) || compression !== 0 || filter !== 0 || interlace !== 0) {
        throw new Error(`unsupported PNG: depth ${depth}, colour type ${colorType}, interlace ${interlace}`);
      }
      header = { width: data.readUInt32BE(0), height: data.readUInt32BE(4), colorType };
      if (header.width * header.height > maxPixels) throw new Error(`PNG is ${header.width} × ${header.height}, above ${maxPixels} pixels`);
    } else if (type === 'IDAT') {
      if (!header) throw new Error('IDAT before IHDR');
      idat.push(data);
    } else if (type === 'IEND') {
      ended = true;
    } else if ((type.charCodeAt(0) & 0x20) === 0) {
      throw new Error(`unknown critical chunk ${type}`);
    }
    offset = end + 4;
  }
  if (!header) throw new Error('PNG has no IHDR');
  if (!ended) throw new Error('PNG has no IEND');

  const { width, height, colorType } = header;
  const bpp = colorType === 6 ? 4 : 3;
  const stride = width * bpp;
  // Bounded: a few bytes of deflate can claim gigabytes.
  const raw = inflateSync(Buffer.concat(idat), { maxOutputLength: height * (stride + 1) + 1 });
  if (raw.length !== height * (stride + 1)) throw new Error(`PNG image data is ${raw.length} bytes, expected ${height * (stride + 1)}`);

  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = y * stride;
    const up = (i: number) => (y > 0 ? pixels[out - stride + i] : 0);
    const left = (i: number) => (i >= bpp ? pixels[out + i - bpp] : 0);
    const upLeft = (i: number) => (y > 0 && i >= bpp ? pixels[out - stride + i - bpp] : 0);
    for (let i = 0; i < stride; i++) {
      let predictor: number;
      switch (filter) {
        case 0:
          predictor = 0;
          break;
        case 1:
          predictor = left(i);
          break;
        case 2:
          predictor = up(i);
          break;
        case 3:
          predictor = (left(i) + up(i)) >> 1;
          break;
        case 4: {
          const a = left(i);
          const b = up(i);
          const c = upLeft(i);
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          throw new Error(`row ${y} has unknown filter type ${filter}`);
      }
      pixels[out + i] = (line[i] + predictor) & 0xff;
    }
  }
  if (bpp === 4) return { width, height, rgba: pixels };
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    rgba[p * 4] = pixels[p * 3];
    rgba[p * 4 + 1] = pixels[p * 3 + 1];
    rgba[p * 4 + 2] = pixels[p * 3 + 2];
    rgba[p * 4 + 3] = 255;
  }
  return { width, height, rgba };
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
