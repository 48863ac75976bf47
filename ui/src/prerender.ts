// Loaded by vite.config.ts's prerender step at build time, in Node, never shipped: the app's first screen as HTML.
import { render } from "svelte/server";
import App from "./App.svelte";

export const firstScreen = (): string => render(App).body;
