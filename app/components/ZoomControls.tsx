'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';
import { VIEW_LIMITS } from '@/lib/pictures/mandelbrot';
import { startBatch } from '../client/start-batch';
import { START_DEFAULTS } from '../client/start-defaults';
import { zoomInput, type PictureBatch } from '../client/zoom';

/** The page's URL names the picture a zoom started from, so the way back needs no server field. */
const FROM_PARAM = 'from';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Zoom {
  /** Set while a click may start a zoomed picture. */
  onZoom: ((px: number, py: number) => void) | null;
  busy: boolean;
  error: string;
  /** The picture is as narrow as the contract allows: zooming further changes nothing. */
  deepest: boolean;
}

/**
 * A zoom journey: a click on a finished picture starts the same picture centred there and
 * START_DEFAULTS.zoom.factor times narrower, and opens it (with a link back to this one).
 */
export function useZoom(picture: PictureBatch | null, ended: boolean): Zoom {
  const router = useRouter();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const deepest = picture !== null && picture.view.width <= VIEW_LIMITS.minWidth;
  const canZoom = picture !== null && ended && !busy && !deepest;

  const zoom = async (px: number, py: number) => {
    if (!picture) return;
    setBusy(true);
    setError('');
    const result = await startBatch(zoomInput(picture, px, py));
    if (result.ok) {
      // Stay busy: a second click must not start a second picture while the next page loads.
      router.push(`/batches/${result.batch.id}?${FROM_PARAM}=${picture.id}`);
      return;
    }
    setError(result.message);
    setBusy(false);
  };

  return { onZoom: canZoom ? (px, py) => void zoom(px, py) : null, busy, error, deepest };
}

/** What a click on the picture does, and a button that does the same for keyboards. */
export function ZoomHint({ picture, ended, zoom }: { picture: PictureBatch; ended: boolean; zoom: Zoom }) {
  const factor = START_DEFAULTS.zoom.factor;
  const centre = () => zoom.onZoom?.(Math.floor((picture.cols * picture.tileSize) / 2), Math.floor((picture.rows * picture.tileSize) / 2));
  return (
    <div className="zoom-hint" data-testid="zoom-hint">
      {!ended && <p className="muted">Tiles glow as they land. Once the picture is finished, click it to zoom in ×{factor}.</p>}
      {ended && zoom.deepest && <p className="muted">This is as deep as the numbers go: the view is as narrow as a picture may be.</p>}
      {ended && !zoom.deepest && (
        <p>
          {zoom.busy ? (
            <span aria-live="polite">Starting the zoomed picture…</span>
          ) : (
            <>
              <strong>Click to zoom in ×{factor}</strong>
              <span className="muted"> — the box shows what the next picture covers. </span>
              <button type="button" className="link-button" onClick={centre} disabled={!zoom.onZoom}>
                Zoom into the centre
              </button>
            </>
          )}
        </p>
      )}
      <p className="form-error" aria-live="assertive">
        {zoom.error}
      </p>
    </div>
  );
}

/** "← Zoomed in from the previous picture", when this picture was started by a zoom. */
export function ZoomedFrom() {
  const [from, setFrom] = useState<string | null>(null);
  useEffect(() => {
    const id = new URLSearchParams(window.location.search).get(FROM_PARAM);
    setFrom(id && UUID.test(id) ? id : null);
  }, []);
  if (!from) return null;
  return (
    <p className="zoomed-from" data-testid="zoomed-from">
      <Link href={`/batches/${from}`}>← Zoomed in from the previous picture</Link>
    </p>
  );
}
