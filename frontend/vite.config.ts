/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Django serves dist/ (whitenoise, WHITENOISE_ROOT) with index.html as the fallback for client
// routes; `npm run dev` proxies the API to a Django started with `make run`.
export default defineConfig({
  plugins: [react()],
  // The manifest lets a test measure what the first screen loads (tests/test_dashboard_build.py).
  build: { outDir: "dist", emptyOutDir: true, manifest: true, chunkSizeWarningLimit: 1200 },
  server: {
    proxy: { "/api": "http://127.0.0.1:8000", "/wecom": "http://127.0.0.1:8000" },
  },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
