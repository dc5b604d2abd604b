/** @type {import('next').NextConfig} */
const nextConfig = {
  // The database drivers load WebAssembly and native sockets at run time; bundling them breaks both.
  serverExternalPackages: ['@electric-sql/pglite', 'postgres'],
  typedRoutes: false,
};

export default nextConfig;
