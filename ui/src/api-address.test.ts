import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { ApiConnectionDto } from "$lib/ipc";
import App from "./App.svelte";
import { connectionDto, mockBackend } from "./test-fixtures";

const ADDED = connectionDto({
  id: "cn_api",
  name: "Example API",
  provider_host: "auth.example.com",
  status: "new",
  client_id: "registered-client",
  authorize_url: "https://auth.example.com/authorize",
  token_url: "https://auth.example.com/token",
  issuer: "https://auth.example.com",
  resource: ["https://api.example.com/v1"],
  api_base_url: "https://api.example.com/v1",
});

function found(registered = true): ApiConnectionDto {
  return {
    connection: ADDED,
    found: {
      resource: "https://api.example.com/v1",
      issuer: "https://auth.example.com",
      authorize_url: "https://auth.example.com/authorize",
      scopes: ["read"],
      registered,
    },
  };
}

async function openApiForm() {
  const user = userEvent.setup();
  render(App);
  await user.click(await screen.findByTestId("add-connection"));
  await user.click(await screen.findByTestId("preset-api"));
  expect(await screen.findByRole("heading", { name: "Add a connection from an API address" })).toBeInTheDocument();
  return user;
}

describe("adding a connection from an API address", () => {
  it("is offered next to the connection spec, says what it found, and Sign in starts the detail view's sign-in", async () => {
    const backend = mockBackend({
      connections_list: () => [],
      presets_list: () => [],
      connection_create_from_api: () => found(),
      sign_in_start: () => ({ session: "si_1" }),
    });
    const user = await openApiForm();
    await user.type(screen.getByRole("textbox", { name: "API address" }), "https://api.example.com/v1");
    await user.type(screen.getByRole("textbox", { name: "Connection name" }), "Example API");
    await user.click(screen.getByTestId("api-add"));

    const words = await screen.findByTestId("api-found");
    expect(words).toHaveTextContent(
      "Found: this API signs in at auth.example.com. This service can register Latch by itself — you only need to sign in.",
    );
    expect(backend.lastArgs("connection_create_from_api")).toEqual({ url: "https://api.example.com/v1", name: "Example API" });
    // Saved already: the list has it.
    expect(within(screen.getByRole("complementary", { name: "Connections" })).getByText("Example API")).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByTestId("detail-name")).toHaveTextContent("Example API");
    await waitFor(() => expect(backend.lastArgs("sign_in_start")).toEqual({ id: "cn_api" }));
  });

  it("names the connection after the API's host when no name is typed", async () => {
    const backend = mockBackend({
      connections_list: () => [],
      presets_list: () => [],
      connection_create_from_api: () => found(),
    });
    const user = await openApiForm();
    await user.type(screen.getByRole("textbox", { name: "API address" }), "  https://api.example.com/v1 ");
    await user.click(screen.getByTestId("api-add"));
    await screen.findByTestId("api-found");
    expect(backend.lastArgs("connection_create_from_api")).toEqual({ url: "https://api.example.com/v1", name: "api.example.com" });
    await user.click(screen.getByTestId("api-later"));
    expect(await screen.findByTestId("detail-name")).toHaveTextContent("Example API");
  });

  it("shows the engine's error in words, in place, and asks for an address before calling it", async () => {
    const backend = mockBackend({
      connections_list: () => [],
      presets_list: () => [],
      connection_create_from_api: () => {
        throw {
          code: "validation",
          message: "https://api.example.com/v1 does not say where to sign in (no protected resource metadata).",
          fields: [],
          action: null,
          provider: null,
          details: null,
        };
      },
    });
    const user = await openApiForm();
    await user.click(screen.getByTestId("api-add"));
    expect(screen.getByTestId("api-url-error")).toHaveTextContent("Type the API's address");
    expect(backend.called("connection_create_from_api")).toHaveLength(0);

    await user.type(screen.getByRole("textbox", { name: "API address" }), "https://api.example.com/v1");
    await user.click(screen.getByTestId("api-add"));
    expect(await screen.findByTestId("api-error")).toHaveTextContent("does not say where to sign in");
    expect(screen.queryByTestId("api-found")).toBeNull();
    expect(screen.getByRole("textbox", { name: "API address" })).toHaveValue("https://api.example.com/v1");
  });
});
