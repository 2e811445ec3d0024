import type { Metadata, Viewport } from 'next';
import type { ReactNode } from 'react';
import './globals.css';

// Every page is rendered per request: its scripts carry that response's CSP nonce (see
// lib/security-headers.ts), which a page prerendered at build time could not know.
export const dynamic = 'force-dynamic';

export const metadata: Metadata = {
  title: 'Finish Line',
  description: 'Fan-out/fan-in on Postgres: one job per grid cell, painted live, with an exactly-once finish line.',
  // Inline, so browsers stop asking for /favicon.ico and the app needs no extra file or request.
  icons: {
    icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 4 4'%3E%3Cpath fill='%230f172a' d='M0 0h1v1H0zM2 0h1v1H2zM1 1h1v1H1zM3 1h1v1H3zM0 2h1v1H0zM2 2h1v1H2zM1 3h1v1H1zM3 3h1v1H3z'/%3E%3C/svg%3E",
  },
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
