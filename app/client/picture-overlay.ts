/** How long a freshly landed tile glows. */
const FLASH_MS = 450;
/** The glow's strongest white, at the moment a tile lands (0..255 alpha). */
const FLASH_ALPHA = 130;
/** Past this many tiles in one frame (a reload's tile read), nothing glows: it would only flicker. */
const FLASH_MAX_PER_FRAME = 400;
const FINISH_GOLD = '#F59E0B';

export interface ZoomBox {
  /** Centre of the box, as fractions of the picture's width and height. */
  cx: number;
  cy: number;
  /** Side of the box as a fraction of the picture's (1 / the zoom factor). */
  fraction: number;
}

/**
 * Two transparent canvases over the picture for what is not the picture, so that the picture's own
 * pixels stay exactly the picture:
 * - the glow: one pixel per tile (CSS scales it up without smoothing, so each pixel covers its
 *   tile exactly), white fading out as each tile lands. Redrawn every frame while tiles glow, and
 *   tiny, so the glow costs next to nothing however large the picture;
 * - the marks, in device pixels for crisp lines: a gold frame on the tile that crossed the finish
 *   line, and the box a click would zoom into. Redrawn only when one of them changes.
 */
export class PictureOverlay {
  private readonly glowImage: ImageData;
  /** When each glowing tile landed; tiles leave the map once their glow has faded. */
  private readonly landedAt = new Map<number, number>();
  private glowShown = false;
  private zoom: ZoomBox | null = null;
  private finishTile = -1;
  private marksChanged = true;

  constructor(
    glow: HTMLCanvasElement,
    private readonly glowCtx: CanvasRenderingContext2D,
    private readonly marks: HTMLCanvasElement,
    private readonly marksCtx: CanvasRenderingContext2D,
    private readonly rows: number,
    private readonly cols: number,
  ) {
    glow.width = cols;
    glow.height = rows;
    this.glowImage = glowCtx.createImageData(cols, rows);
    // White everywhere; only the alpha channel changes.
    const data = this.glowImage.data;
    for (let p = 0; p < data.length; p += 4) data[p] = data[p + 1] = data[p + 2] = 255;
  }

  /** Matches the picture's size on screen, in device pixels, so the marks stay crisp. */
  fit(cssWidth: number, cssHeight: number): void {
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(cssWidth * dpr));
    const height = Math.max(1, Math.round(cssHeight * dpr));
    if (this.marks.width !== width || this.marks.height !== height) {
      this.marks.width = width;
      this.marks.height = height;
      this.marksChanged = true;
    }
  }

  landed(tiles: number[], now: number): void {
    if (tiles.length === 0 || tiles.length > FLASH_MAX_PER_FRAME) return;
    for (const i of tiles) this.landedAt.set(i, now);
  }

  setZoomBox(box: ZoomBox | null): void {
    if (box === this.zoom || (box && this.zoom && box.cx === this.zoom.cx && box.cy === this.zoom.cy)) return;
    this.zoom = box;
    this.marksChanged = true;
  }

  setFinishTile(i: number): void {
    if (i === this.finishTile) return;
    this.finishTile = i;
    this.marksChanged = true;
  }

  draw(now: number): void {
    this.drawGlow(now);
    if (this.marksChanged) this.drawMarks();
  }

  private drawGlow(now: number): void {
    if (this.landedAt.size === 0 && !this.glowShown) return;
    const data = this.glowImage.data;
    for (const [i, at] of this.landedAt) {
      const left = 1 - (now - at) / FLASH_MS;
      data[i * 4 + 3] = left > 0 ? FLASH_ALPHA * left : 0;
      if (left <= 0) this.landedAt.delete(i);
    }
    this.glowCtx.putImageData(this.glowImage, 0, 0);
    // One more frame after the last glow fades, to clear it.
    this.glowShown = this.landedAt.size > 0;
  }

  private drawMarks(): void {
    this.marksChanged = false;
    const { marksCtx: ctx, marks: canvas } = this;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (this.finishTile >= 0) this.drawFinish(canvas.width / this.cols, canvas.height / this.rows);
    if (this.zoom) this.drawZoom(this.zoom);
  }

  private drawFinish(tw: number, th: number): void {
    const ctx = this.marksCtx;
    const dpr = window.devicePixelRatio || 1;
    const x = (this.finishTile % this.cols) * tw;
    const y = Math.floor(this.finishTile / this.cols) * th;
    const line = Math.max(2, Math.round(2 * dpr));
    ctx.lineWidth = line + 2 * dpr;
    ctx.strokeStyle = 'rgba(15, 23, 42, 0.7)';
    ctx.strokeRect(x, y, tw, th);
    ctx.lineWidth = line;
    ctx.strokeStyle = FINISH_GOLD;
    ctx.strokeRect(x, y, tw, th);
  }

  private drawZoom({ cx, cy, fraction }: ZoomBox): void {
    const { marksCtx: ctx, marks: canvas } = this;
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.width * fraction;
    const h = canvas.height * fraction;
    const x = cx * canvas.width - w / 2;
    const y = cy * canvas.height - h / 2;
    // Dim what the zoom leaves out, then frame what it keeps.
    ctx.fillStyle = 'rgba(15, 23, 42, 0.28)';
    ctx.beginPath();
    ctx.rect(0, 0, canvas.width, canvas.height);
    ctx.rect(x, y, w, h);
    ctx.fill('evenodd');
    ctx.lineWidth = 3 * dpr;
    ctx.strokeStyle = 'rgba(15, 23, 42, 0.55)';
    ctx.strokeRect(x, y, w, h);
    ctx.lineWidth = 1.5 * dpr;
    ctx.strokeStyle = '#FFFFFF';
    ctx.strokeRect(x, y, w, h);
  }
}
