import type { Metadata, Viewport } from 'next';
import type { ReactNode } from 'react';
import './globals.css';

export const metadata: Metadata = {
  title: 'Finish Line',
  description: 'Fan-out/fan-in on Postgres: one job per grid cell, painted live, with an exactly-once finish line.',
};

export const viewport: Viewport = {
  colorScheme: 'light',
  themeColor: '#f8fafc',
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
