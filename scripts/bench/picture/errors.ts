/**
 * A failure the picture bench diagnosed itself (a setup that did not come up, a batch that did not
 * complete, a picture that differs); its message says what it waited for or found.
 */
export class BenchError extends Error {
  override name = 'BenchError';
}
