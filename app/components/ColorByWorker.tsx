'use client';

import { useEffect, useState } from 'react';
import type { ColorBy } from '../client/grid-painter';

/** The URL says which colouring a page shows, so a reload or a shared link keeps it. */
const PARAM = 'colorBy';

/** The grid's colouring, kept in the page's URL (`?colorBy=worker`) without a navigation. */
export function useColorBy(): [ColorBy, (next: ColorBy) => void] {
  const [colorBy, setColorBy] = useState<ColorBy>('cell');
  useEffect(() => {
    if (new URLSearchParams(window.location.search).get(PARAM) === 'worker') setColorBy('worker');
  }, []);
  const change = (next: ColorBy) => {
    setColorBy(next);
    const url = new URL(window.location.href);
    if (next === 'worker') url.searchParams.set(PARAM, 'worker');
    else url.searchParams.delete(PARAM);
    window.history.replaceState(window.history.state, '', url);
  };
  return [colorBy, change];
}

/** The switch between cells' own colours and their workers' colours. */
export function ColorByToggle({ colorBy, onChange }: { colorBy: ColorBy; onChange: (next: ColorBy) => void }) {
  return (
    <label className="color-by">
      <input type="checkbox" checked={colorBy === 'worker'} onChange={(event) => onChange(event.target.checked ? 'worker' : 'cell')} />
      Colour by worker
    </label>
  );
}
