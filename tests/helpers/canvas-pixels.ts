import type { Page } from '@playwright/test';
import type { CellPosition } from '../../lib/types';

export interface GridPixels {
  rows: number;
  cols: number;
  /** `#RRGGBB` at the centre of each asked cell, in the order asked. */
  colors: string[];
  /** Cells of the whole grid still showing the painter's "waiting" grey. */
  unpainted: number;
}

/**
 * Reads the batch page's grid canvas at cell centres, for the e2e tests and the fps bench alike. The
 * waiting grey is grid-painter.ts's EMPTY_RGB.
 */
export async function readGridPixels(page: Page, cells: CellPosition[]): Promise<GridPixels> {
  return page.getByTestId('grid').evaluate((element, cells: CellPosition[]) => {
    const canvas = element as HTMLCanvasElement;
    const rows = Number(canvas.dataset.rows);
    const cols = Number(canvas.dataset.cols);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('The grid canvas has no 2D context.');
    const { data, width } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const pixel = (row: number, col: number) => {
      const x = Math.floor(((col + 0.5) * canvas.width) / cols);
      const y = Math.floor(((row + 0.5) * canvas.height) / rows);
      const i = (y * width + x) * 4;
      return (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    };
    const colors = cells.map((cell) => `#${pixel(cell.row, cell.col).toString(16).toUpperCase().padStart(6, '0')}`);
    const waiting = 0xe5e7eb;
    let unpainted = 0;
    for (let row = 0; row < rows; row++) for (let col = 0; col < cols; col++) if (pixel(row, col) === waiting) unpainted++;
    return { rows, cols, colors, unpainted };
  }, cells);
}

/** `(row, col) painted != expected` for each cell whose pixel is not its colour. */
export function colorMismatches(cells: (CellPosition & { color: string })[], painted: string[]): string[] {
  return cells.flatMap((cell, i) => (painted[i] === cell.color ? [] : [`(${cell.row}, ${cell.col}) ${painted[i]} != ${cell.color}`]));
}
