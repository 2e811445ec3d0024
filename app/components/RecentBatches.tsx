'use client';

import Link from 'next/link';
import { useEffect, useState } from 'react';
import type { Batch } from '@/lib/types';
import { formatCount } from '../client/format';

/**
 * Larger images get no thumbnail: the browser would decode every pixel (64 MB for a 4096² picture)
 * to show a few thousand, and the home page would stall while it does.
 */
const THUMBNAIL_MAX_PIXELS = 1024 * 1024;

/** The latest batches, how each ended and, once built, a thumbnail of its image; read once when the page opens. */
export function RecentBatches() {
  const [batches, setBatches] = useState<Batch[] | null>(null);
  const [error, setError] = useState('');

  useEffect(() => {
    const controller = new AbortController();
    fetch('/api/batches?limit=10', { signal: controller.signal })
      .then(async (response) => {
        if (!response.ok) throw new Error(`the server answered HTTP ${response.status}`);
        setBatches(((await response.json()) as { batches: Batch[] }).batches);
      })
      .catch((err: unknown) => {
        if (!controller.signal.aborted) setError(err instanceof Error ? err.message : String(err));
      });
    return () => controller.abort();
  }, []);

  return (
    <section className="recent-section" aria-labelledby="recent-heading">
      <h2 id="recent-heading">Recent batches</h2>
      {error && <p className="form-error">Could not load recent batches: {error}. Reload the page to try again.</p>}
      {batches === null && !error && <p className="muted">Loading…</p>}
      {batches?.length === 0 && <p className="muted">None yet — start the first one.</p>}
      {batches && batches.length > 0 && (
        <ul className="recent">
          {batches.map((b) => (
            <li key={b.id}>
              <span className="recent-thumb" aria-hidden="true">
                {b.image && b.image.width * b.image.height <= THUMBNAIL_MAX_PIXELS && (
                  <img
                    src={b.image.url}
                    alt=""
                    width={b.image.width}
                    height={b.image.height}
                    loading="lazy"
                    decoding="async"
                    className={b.kind === 'mandelbrot' ? undefined : 'pixelated'}
                  />
                )}
              </span>
              <Link href={`/batches/${b.id}`}>
                {b.kind === 'mandelbrot' ? `Mandelbrot ${b.rows} × ${b.cols}` : `${b.rows} × ${b.cols}`}
              </Link>
              <span className={`status status-${b.status}`}>{b.status}</span>
              <span className="numbers">
                {formatCount(b.done)} / {formatCount(b.total)}
                {b.failed > 0 && ` · ${formatCount(b.failed)} failed`}
              </span>
              <time dateTime={b.createdAt}>{new Date(b.createdAt).toLocaleString()}</time>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
