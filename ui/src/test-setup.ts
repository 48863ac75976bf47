import "@testing-library/jest-dom/vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { afterEach, beforeAll } from "vitest";
import { screens } from "$lib/screens.svelte";
import { forgetTemplate } from "$lib/state/template";

// The window fetches its screens' chunks just after its first frame (App's preloadScreens); tests start where
// that has happened. screens.test.ts covers a screen asked for before its chunk arrived.
beforeAll(() => Promise.all(Object.values(screens).map((screen) => screen.load())));

afterEach(() => {
  clearMocks();
  // Each test fakes its own engine: none may see another's template.
  forgetTemplate();
});
