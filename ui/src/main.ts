import { mount } from "svelte";
import App from "./App.svelte";
import { framePainted } from "$lib/first-frame";
import "./app.css";

// The built index.html already holds the app's first screen as plain HTML (vite.config.ts, prerender), and WebKit
// paints a page only once its script has run or let go: let go first, so that screen is on the display now, then
// put the live app in its place (the same elements; `vite` in development serves the page without them).
const target = document.getElementById("app")!;
void framePainted().then(() => {
  target.replaceChildren();
  mount(App, { target });
});
