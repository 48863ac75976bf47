import "@testing-library/jest-dom/vitest";
import { clearMocks } from "@tauri-apps/api/mocks";
import { afterEach } from "vitest";
import { forgetTemplate } from "$lib/state/template";

afterEach(() => {
  clearMocks();
  // Each test fakes its own engine: none may see another's template.
  forgetTemplate();
});
