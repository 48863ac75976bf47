import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { connectionDto } from "../../test-fixtures";
import ConnectionList from "./ConnectionList.svelte";

const named = (count: number) =>
  Array.from({ length: count }, (_, i) => {
    const n = String(i + 1).padStart(4, "0");
    return connectionDto({ id: `cn_${n}`, name: `Connection ${n}` });
  });
const shownNames = () => screen.getAllByTestId("connection-row").map((row) => row.dataset.name);

describe("a long connection list", () => {
  it("puts only the rows in view in the page, and says how many there are in all", () => {
    render(ConnectionList, { connections: named(1000), selectedId: null, onselect: () => {} });
    const names = shownNames();
    expect(names[0]).toBe("Connection 0001");
    expect(names.length).toBeGreaterThan(10);
    expect(names.length).toBeLessThan(100);
    const first = screen.getAllByRole("listitem")[0];
    expect(first).toHaveAttribute("aria-setsize", "1000");
    expect(first).toHaveAttribute("aria-posinset", "1");
  });

  it("moves between rows with the arrows, Home and End, rendering the row it goes to", async () => {
    const user = userEvent.setup();
    // 300: a test's DOM cannot scroll, so End puts every row up to the last in the page.
    render(ConnectionList, { connections: named(300), selectedId: null, onselect: () => {} });
    screen.getAllByTestId("connection-row")[0].focus();
    await user.keyboard("{ArrowDown}");
    expect(document.activeElement).toHaveAttribute("data-name", "Connection 0002");
    await user.keyboard("{End}");
    await waitFor(() => expect(document.activeElement).toHaveAttribute("data-name", "Connection 0300"));
    expect(document.activeElement?.closest("li")).toHaveAttribute("aria-posinset", "300");
    await user.keyboard("{Home}");
    await waitFor(() => expect(document.activeElement).toHaveAttribute("data-name", "Connection 0001"));
  });

  it("filters over every connection, not only the rows in the page", async () => {
    render(ConnectionList, { connections: named(1000), selectedId: null, onselect: () => {} });
    await userEvent.type(screen.getByTestId("search"), "0999");
    expect(shownNames()).toEqual(["Connection 0999"]);
  });

  it("keeps a short list whole", () => {
    render(ConnectionList, { connections: named(40), selectedId: null, onselect: () => {} });
    expect(shownNames()).toHaveLength(40);
    expect(screen.getAllByRole("listitem")[0]).not.toHaveAttribute("aria-setsize");
  });
});
