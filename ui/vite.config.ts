/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { svelteTesting } from "@testing-library/svelte/vite";

export default defineConfig({
  plugins: [svelte(), svelteTesting()],
  // Relative asset paths: the bundle is served from Tauri's custom protocol, not a web root.
  base: "./",
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  resolve: {
    alias: { $lib: decodeURIComponent(new URL("./src/lib", import.meta.url).pathname) },
  },
  build: {
    outDir: "dist",
    // Tauri on Linux renders with WebKitGTK, whose JavaScript matches Safari's.
    target: "safari15",
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    setupFiles: ["src/test-setup.ts"],
  },
});
