import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import App from "../../App.svelte";
import type { ConnectionDto, Draft } from "$lib/ipc";
import ConnectionForm from "./ConnectionForm.svelte";
import { connectionDto, draftOf, mockBackend } from "../../test-fixtures";

const noop = () => {};

async function renderForm(props: { connection?: ConnectionDto } = {}) {
  render(ConnectionForm, { onsaved: noop, oncancel: noop, ...props });
  await screen.findByTestId("connection-form");
  await userEvent.click(screen.getByTestId("advanced-toggle"));
}

describe("the OAuth 2.0 form's Security group", () => {
  it("offers PAR as a checkbox, shows the PAR address only when it is ticked, and sends both", async () => {
    const backend = mockBackend({ connection_check: () => [] });
    await renderForm();
    const group = screen.getByRole("region", { name: "Security" });
    const par = within(group).getByRole("checkbox", { name: "Send the sign-in request to the service directly (PAR)" });
    expect(par).not.toBeChecked();
    expect(within(group).getByText("Some services require it; Latch fills it in when the service says so.")).toBeInTheDocument();
    expect(screen.queryByRole("textbox", { name: "PAR address" })).toBeNull();

    await userEvent.click(par);
    const address = await screen.findByRole("textbox", { name: "PAR address" });
    await userEvent.type(address, "https://id.example.com/par");
    await waitFor(() =>
      expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { par: true, par_url: "https://id.example.com/par" } }),
    );
    await userEvent.click(par);
    expect(screen.queryByRole("textbox", { name: "PAR address" })).toBeNull();
    await waitFor(() => expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { par: false } }));
  });

  it("offers client_secret_jwt as “Signed with the secret (JWT)”", async () => {
    const backend = mockBackend({ connection_check: () => [] });
    await renderForm();
    const choice = within(screen.getByRole("group", { name: "Client authentication" }));
    await userEvent.click(choice.getByRole("radio", { name: "Signed with the secret (JWT)" }));
    await waitFor(() => expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { client_auth: "client_secret_jwt" } }));
  });

  it("shows the engine's PAR address error under the field, even for a saved connection", async () => {
    const connection = connectionDto({ par: true, par_url: "http://id.example.com/par" });
    mockBackend({
      connection_draft: () => draftOf(connection),
      connection_check: () => [{ field: "par_url", message: "The PAR endpoint must use https." }],
    });
    render(ConnectionForm, { connection, onsaved: noop, oncancel: noop });
    await screen.findByTestId("connection-form");
    // An error in Advanced opens it once the form is submitted.
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("error-par_url")).toHaveTextContent("The PAR endpoint must use https.");
    expect(screen.getByRole("checkbox", { name: /PAR/ })).toBeChecked();
    expect(screen.getByRole("textbox", { name: "PAR address" })).toHaveAttribute("aria-invalid", "true");
  });
});

describe("the detail's OAuth 2.0 facts", () => {
  it("say whether pushed sign-in requests are on and the client authentication in words", async () => {
    mockBackend({ connections_list: () => [connectionDto({ par: true, par_url: "https://id.example.com/par", client_auth: "client_secret_jwt" })] });
    render(App);
    await userEvent.click(await screen.findByTestId("connection-row"));
    expect(screen.getByTestId("detail-par")).toHaveTextContent("On");
    expect(screen.getByTestId("detail-client-auth")).toHaveTextContent("Signed with the secret (JWT)");
  });

  it("say Off without PAR", async () => {
    mockBackend({ connections_list: () => [connectionDto({ client_auth: "basic" })] });
    render(App);
    await userEvent.click(await screen.findByTestId("connection-row"));
    expect(screen.getByTestId("detail-par")).toHaveTextContent("Off");
    expect(screen.getByTestId("detail-client-auth")).toHaveTextContent("Basic");
  });
});

describe("DPoP in the Security group and the detail", () => {
  it("offers binding tokens to this computer in plain words, for every flow, and sends it", async () => {
    const backend = mockBackend({ connection_check: () => [] });
    await renderForm();
    const group = screen.getByRole("region", { name: "Security" });
    const dpop = within(group).getByRole("checkbox", { name: "Bind tokens to this computer (DPoP)" });
    expect(dpop).not.toBeChecked();
    expect(dpop).toHaveAccessibleDescription(/A copied token is then useless elsewhere/);
    await userEvent.click(dpop);
    await waitFor(() => expect(backend.lastArgs("connection_check")).toMatchObject({ draft: { dpop: true } }));

    // No browser, no PAR — but tokens can still be bound.
    await userEvent.selectOptions(screen.getByTestId("flow-type"), "client_credentials");
    expect(screen.queryByRole("checkbox", { name: /PAR/ })).toBeNull();
    expect(within(screen.getByRole("region", { name: "Security" })).getByRole("checkbox", { name: "Bind tokens to this computer (DPoP)" })).toBeChecked();
  });

  it("shows the engine's DPoP error in place", async () => {
    const connection = connectionDto({ dpop: true, token_placement: "query" });
    mockBackend({
      connection_draft: () => draftOf(connection),
      connection_check: () => [{ field: "dpop", message: "Tokens bound to this computer (DPoP) are sent in the Authorization header only." }],
    });
    render(ConnectionForm, { connection, onsaved: noop, oncancel: noop });
    await screen.findByTestId("connection-form");
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("error-dpop")).toHaveTextContent("Authorization header only");
    expect(screen.getByRole("checkbox", { name: "Bind tokens to this computer (DPoP)" })).toHaveAttribute("aria-invalid", "true");
  });

  it("says in the detail whether tokens are bound", async () => {
    mockBackend({ connections_list: () => [connectionDto({ dpop: true })] });
    render(App);
    await userEvent.click(await screen.findByTestId("connection-row"));
    expect(screen.getByTestId("detail-dpop")).toHaveTextContent("On");
  });

  it("says Off when they are not", async () => {
    mockBackend({ connections_list: () => [connectionDto({ flow: "client_credentials" })] });
    render(App);
    await userEvent.click(await screen.findByTestId("connection-row"));
    expect(screen.getByTestId("detail-dpop")).toHaveTextContent("Off");
  });

  it("says when Discover found that the service supports it, and leaves it off", async () => {
    mockBackend({
      connection_check: () => [],
      issuer_discover: ({ issuer, draft }) => ({
        draft: { ...(draft as Draft), issuer, authorize_url: "https://id.example.com/auth", token_url: "https://id.example.com/token" },
        scopes_supported: [],
        dpop_supported: true,
      }),
    });
    await renderForm();
    expect(screen.queryByTestId("dpop-offered")).toBeNull();
    await userEvent.type(screen.getByRole("textbox", { name: "Issuer or provider address" }), "https://id.example.com{Enter}");
    expect(await screen.findByTestId("dpop-offered")).toHaveTextContent("This service supports it.");
    const dpop = screen.getByRole("checkbox", { name: "Bind tokens to this computer (DPoP)" });
    expect(dpop).not.toBeChecked();
    expect(dpop).toHaveAccessibleDescription(/This service supports it\./);
  });
});
