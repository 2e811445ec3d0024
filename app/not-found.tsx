import Link from 'next/link';

/** Our own 404 page: Next's default one styles itself inline, which the page CSP refuses. */
export default function NotFound() {
  return (
    <main>
      <h1>Page not found</h1>
      <p>
        There is nothing at this address. <Link href="/">Start a batch</Link> instead.
      </p>
    </main>
  );
}
