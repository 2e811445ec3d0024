import { describe, expect, it } from 'vitest';
import { assertNodeVersion } from '../../lib/lifecycle';

describe('assertNodeVersion', () => {
  it('refuses Node.js 20 with a sentence that says how to start it instead', () => {
    expect(() => assertNodeVersion('20.20.2')).toThrow(/needs Node\.js 22\.12 or newer and this is 20\.20\.2.*npm start/);
  });

  it('accepts the Node.js the project brings, and newer', () => {
    for (const version of ['22.12.0', '24.11.1', '26.0.0']) expect(() => assertNodeVersion(version)).not.toThrow();
  });
});
