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
        Pick a picture and press Start. The server fans out one job per tile; worker processes render the tiles and you watch them land
        live, until the last one crosses the finish line. Or pick random colours: one job per cell, the same race.
      </p>
      <StartForm />
      <RecentBatches />
    </main>
  );
}
