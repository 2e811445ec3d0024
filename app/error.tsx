'use client';

/** Shown when a page throws; plain markup, since Next's default error page styles itself inline (refused by the CSP). */
export default function PageError({ reset }: { error: Error; reset: () => void }) {
  return (
    <main>
      <h1>Something went wrong</h1>
      <p className="form-error">This page failed to render. Try again; if it keeps failing, reload the page.</p>
      <button type="button" onClick={reset}>
        Try again
      </button>
    </main>
  );
}
