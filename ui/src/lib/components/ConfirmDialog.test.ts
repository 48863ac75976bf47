import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import ConfirmDialog from "./ConfirmDialog.svelte";

/** A button outside the dialog that "opened" it: it has the focus when the dialog appears. */
function opener(): HTMLButtonElement {
  const button = document.createElement("button");
  button.textContent = "Open";
  document.body.append(button);
  button.focus();
  return button;
}

afterEach(() => document.body.replaceChildren());

describe("a dialog", () => {
  it("starts on Cancel, keeps Tab and Shift+Tab inside, and gives the focus back to its opener on close", async () => {
    const open = opener();
    const outside = document.createElement("input");
    document.body.append(outside);
    const dialog = render(ConfirmDialog, { title: "Delete “Lab”?", confirmLabel: "Delete", onconfirm: vi.fn(), oncancel: vi.fn() });
    const cancel = screen.getByRole("button", { name: "Cancel" });
    const confirm = screen.getByRole("button", { name: "Delete" });
    expect(cancel).toHaveFocus();

    await userEvent.tab();
    expect(confirm).toHaveFocus();
    await userEvent.tab();
    expect(cancel).toHaveFocus();
    await userEvent.tab({ shift: true });
    expect(confirm).toHaveFocus();

    // Focus that lands outside (a script, the page behind) comes back into the dialog.
    outside.focus();
    expect(cancel).toHaveFocus();

    dialog.unmount();
    expect(open).toHaveFocus();
  });

  it("goes round every kind of control in it, a text box and a checkbox too", async () => {
    opener();
    const { container } = render(ConfirmDialog, { title: "Import", confirmLabel: "Import", onconfirm: vi.fn(), oncancel: vi.fn() });
    const body = container.querySelector(".body") as HTMLElement;
    body.innerHTML = '<input type="text" aria-label="New name"><input type="checkbox" aria-label="Trust">';
    const [text, box] = [...body.querySelectorAll("input")];
    text.focus();
    await userEvent.tab({ shift: true });
    expect(screen.getByRole("button", { name: "Import" })).toHaveFocus();
    await userEvent.tab();
    expect(text).toHaveFocus();
    await userEvent.tab();
    expect(box).toHaveFocus();
    await userEvent.tab();
    expect(screen.getByRole("button", { name: "Cancel" })).toHaveFocus();
  });

  it("closes on Escape", async () => {
    opener();
    const oncancel = vi.fn();
    render(ConfirmDialog, { title: "Discard changes?", confirmLabel: "Discard", onconfirm: vi.fn(), oncancel });
    await userEvent.keyboard("{Escape}");
    expect(oncancel).toHaveBeenCalledTimes(1);
  });
});
