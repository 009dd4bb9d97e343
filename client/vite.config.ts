import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

const clientDir = fileURLToPath(new URL('.', import.meta.url));

/** Builds client/ into client/dist; `vite --config client/vite.config.ts` proxies the API to a running server. */
export default defineConfig({
  root: clientDir,
  base: '/',
  plugins: [vue()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
  },
  server: {
    proxy: {
      '/graphql': { target: process.env.SLUICE_API ?? 'http://127.0.0.1:4000', ws: true },
    },
  },
});
