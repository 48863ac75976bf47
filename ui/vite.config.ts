/// <reference types="vitest/config" />
import { createServer, defineConfig, type Plugin } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { svelteTesting } from "@testing-library/svelte/vite";

/**
 * Puts the app's first screen — the window's frame, the sidebar with its heading, nothing loaded yet — into the
 * built index.html, rendered by Svelte's server renderer from App.svelte itself, so it cannot drift from what the
 * app draws. WebKit paints it as soon as main.ts lets a frame go, instead of once the app has been mounted (tens
 * of milliseconds later without a JIT); main.ts then mounts the live app in its place.
 */
function prerender(): Plugin {
  return {
    name: "latch-prerender",
    apply: "build",
    async transformIndexHtml(html) {
      const server = await createServer({
        configFile: new URL(import.meta.url).pathname,
        server: { middlewareMode: true, hmr: false, ws: false },
        appType: "custom",
        logLevel: "error",
      });
      try {
        const { firstScreen } = (await server.ssrLoadModule("/src/prerender.ts")) as { firstScreen: () => string };
        const empty = '<div id="app"></div>';
        if (!html.includes(empty)) throw new Error(`prerender: index.html has no ${empty}`);
        return html.replace(empty, `<div id="app">${firstScreen()}</div>`);
      } finally {
        await server.close();
      }
    },
  };
}

export default defineConfig({
  plugins: [svelte(), svelteTesting(), prerender()],
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
