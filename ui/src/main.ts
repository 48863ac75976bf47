import { mount } from "svelte";
import App from "./App.svelte";
import { framePainted } from "$lib/first-frame";
import { askEarly } from "$lib/early-list";
import "./app.css";

// The built index.html already holds the app's first screen as plain HTML (vite.config.ts, prerender), and WebKit
// paints a page only once its script has run or let go: let go first, so that screen is on the display now, then
// put the live app in its place (the same elements; `vite` in development serves the page without them).
// The list is asked for first: the engine reads it while that frame is painted and the app mounted.
const target = document.getElementById("app")!;
const firstList = askEarly();
void framePainted().then(() => {
  target.replaceChildren();
  mount(App, { target, props: { firstList } });
});
