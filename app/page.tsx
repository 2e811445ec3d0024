import Link from 'next/link';
import { RecentBatches } from './components/RecentBatches';
import { StartForm } from './components/StartForm';

/** Home: static text from the server; the form and the recent list are client islands. */
export default function HomePage() {
  return (
    <main>
      <header className="home-header">
        <Link href="/dashboard">Dashboard →</Link>
      </header>
      <h1>Finish Line</h1>
      <p className="lede">
        Pick a grid and press Start. The server fans out one job per cell; worker processes colour the cells and you watch
        them land live, until the last one crosses the finish line.
      </p>
      <StartForm />
      <RecentBatches />
    </main>
  );
}
