import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import App from "../../App.svelte";
import type { SpecCreateDto, SpecOpenedDto } from "$lib/ipc";
import SpecForm from "./SpecForm.svelte";
import { mockBackend, specConnectionDto, specDocument, specOpened } from "../../test-fixtures";

const noop = () => {};

/** The engine's rule for a parameter, as `spec_parameter_check` answers for the fixture's parameters. */
function parameterCheck({ definition, value }: Record<string, unknown>) {
  const d = definition as { label: string; type: string; required?: boolean };
  if ((value === null || value === undefined) && d.required) return `${d.label} is required.`;
  if (d.type === "email" && typeof value === "string" && !value.includes("@")) return `${d.label}: must be an e-mail address.`;
  return null;
}

function backend(extra: Parameters<typeof mockBackend>[0] = {}) {
  return mockBackend({
    spec_parameter_check: parameterCheck,
    connection_check: ({ draft }) => ((draft as { name: string }).name ? [] : [{ field: "name", message: "Connection name is required." }]),
    spec_create: () => specConnectionDto(),
    ...extra,
  });
}

function renderForm(opened: SpecOpenedDto = specOpened(), onsaved = noop) {
  render(SpecForm, { opened, onsaved, oncancel: noop, onback: noop });
  return screen.findByTestId("spec-form");
}

afterEach(() => vi.restoreAllMocks());

describe("the spec form", () => {
  it("shows the redirect URI first and each parameter by its type, with label, help and default", async () => {
    backend();
    await renderForm();
    expect(screen.getByTestId("redirect-uri")).toHaveTextContent("http://127.0.0.1/oauth/cb/app");
    const types = screen.getAllByTestId("spec-parameter").map((field) => field.dataset.type);
    expect(types).toEqual(["text", "password", "email", "url", "uinteger", "boolean", "select"]);
    expect(screen.getByLabelText(/^Tenant/)).toHaveAttribute("type", "text");
    expect(screen.getByText("Your company's name at the CRM.")).toBeInTheDocument();
    expect(screen.getByLabelText(/^API key/)).toHaveAttribute("type", "password");
    expect(screen.getByLabelText(/^E-mail/)).toHaveAttribute("type", "email");
    expect(screen.getByLabelText(/^Site address/)).toHaveAttribute("type", "url");
    expect(screen.getByLabelText(/^Page size/)).toHaveValue("50");
    expect(screen.getByLabelText("Use the sandbox")).not.toBeChecked();
    const region = screen.getByLabelText(/^Region/) as HTMLSelectElement;
    expect(region.selectedOptions[0]).toHaveTextContent("Europe");
    // Required ones are marked.
    expect(screen.getByText("Tenant").querySelector(".required")).not.toBeNull();
  });

  it("keeps advanced parameters behind Advanced: a list as lines, a collection as rows", async () => {
    backend();
    await renderForm();
    expect(screen.queryByLabelText(/^Tags/)).toBeNull();
    await userEvent.click(screen.getByTestId("spec-advanced"));
    expect(screen.getByLabelText(/^Tags/).tagName).toBe("TEXTAREA");
    expect(screen.getByRole("group", { name: /Extra headers/ })).toBeInTheDocument();
  });

  it("ticks the spec's default scopes and labels each scope", async () => {
    backend();
    await renderForm();
    const scopes = within(screen.getByTestId("spec-scopes"));
    expect(scopes.getByRole("checkbox", { name: /Read your records/ })).toBeChecked();
    expect(scopes.getByRole("checkbox", { name: /Change your records/ })).not.toBeChecked();
  });

  it("asks for the common data once, the secret-looking key masked", async () => {
    backend();
    await renderForm();
    expect(screen.getByLabelText("Client ID")).toHaveAttribute("type", "text");
    // What the file says to enter, from its placeholder.
    expect(screen.getByText("The file says: client id from the CRM e-mail.")).toBeInTheDocument();
    expect(screen.getByLabelText("Client secret")).toHaveAttribute("type", "password");
  });

  it("shows the engine's error when a field is left, not before, and keeps Save enabled", async () => {
    backend();
    await renderForm();
    const email = screen.getByLabelText(/^E-mail/);
    await userEvent.type(email, "not-an-address");
    expect(screen.queryByTestId("error-param:email")).toBeNull();
    await userEvent.tab();
    expect(await screen.findByTestId("error-param:email")).toHaveTextContent("E-mail: must be an e-mail address.");
    expect(email).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByTestId("save")).toBeEnabled();
  });

  it("on Save with errors, says how many and focuses the first; nothing is created", async () => {
    const engine = backend();
    await renderForm();
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("fix-count")).toHaveTextContent("2 things need fixing");
    expect(screen.getByTestId("error-param:tenant")).toHaveTextContent("Tenant is required.");
    await waitFor(() => expect(screen.getByLabelText(/^Tenant/)).toHaveFocus());
    expect(engine.called("spec_create")).toHaveLength(0);
  });

  it("needs a confirmation when the spec sends a secret to another host", async () => {
    const engine = backend();
    await renderForm(specOpened({ secret_hosts: ["collector.example.net"], document: specDocument({ parameters: [] }) }));
    expect(screen.getByTestId("secret-hosts")).toHaveTextContent("This file sends your app secret to collector.example.net");
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("error-hosts")).toBeInTheDocument();
    expect(engine.called("spec_create")).toHaveLength(0);
    await userEvent.click(screen.getByTestId("confirm-secret-hosts"));
    await userEvent.click(screen.getByTestId("save"));
    await waitFor(() => expect(engine.called("spec_create")).toHaveLength(1));
    expect((engine.lastArgs("spec_create")!.input as SpecCreateDto).accepted_secret_hosts).toEqual(["collector.example.net"]);
  });

  it("sends each value in its type, the ticked scopes and the common data", async () => {
    const engine = backend();
    const onsaved = vi.fn();
    await renderForm(specOpened(), onsaved);
    await userEvent.type(screen.getByLabelText(/^Tenant/), "acme");
    await userEvent.type(screen.getByLabelText(/^API key/), "k3y");
    await userEvent.click(screen.getByLabelText("Use the sandbox"));
    await userEvent.type(screen.getByLabelText("Client ID"), "crm-app");
    await userEvent.type(screen.getByLabelText("Client secret"), "s3cret");
    await userEvent.click(screen.getByRole("checkbox", { name: /Change your records/ }));
    await userEvent.click(screen.getByTestId("save"));
    await waitFor(() => expect(onsaved).toHaveBeenCalled());
    const input = engine.lastArgs("spec_create")!.input as SpecCreateDto;
    expect(input.name).toBe("Company CRM");
    expect(input.parameters).toEqual({ tenant: "acme", apiKey: "k3y", limit: 50, sandbox: true, region: "eu" });
    expect(input.common).toEqual({ clientId: "crm-app", clientSecret: "s3cret" });
    expect(input.scopes).toEqual(["read", "write"]);
  });

  it("puts the engine's refusal on Save where it belongs", async () => {
    backend({
      spec_create: () => {
        throw {
          code: "validation",
          message: "Check the form.",
          fields: [{ field: "common", message: "The spec needs its app's common data: clientSecret." }],
        };
      },
    });
    await renderForm(specOpened({ document: specDocument({ parameters: [] }) }));
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("error-common")).toHaveTextContent("clientSecret");
  });
});

describe("adding from a spec", () => {
  it("is offered under the provider picker; pasted JSON with problems lists them with their place and goes no further", async () => {
    const engine = mockBackend({
      connections_list: () => [],
      presets_list: () => [],
      spec_open_text: () => specOpened({ problems: ["communication.token.url: must be a web address."] }),
    });
    render(App);
    await userEvent.click(await screen.findByTestId("add-connection"));
    await userEvent.click(await screen.findByTestId("preset-spec"));
    await userEvent.click(screen.getByTestId("spec-paste"));
    await userEvent.click(screen.getByTestId("spec-text"));
    await userEvent.paste('{"communication": {}}');
    await userEvent.click(screen.getByTestId("spec-open-pasted"));
    const problem = await screen.findByTestId("spec-problem");
    expect(problem).toHaveTextContent("communication.token.url — must be a web address.");
    expect(screen.queryByTestId("spec-form")).toBeNull();
    expect(engine.lastArgs("spec_open_text")).toEqual({ text: '{"communication": {}}' });
  });

  it("opens a good spec into its form", async () => {
    mockBackend({
      connections_list: () => [],
      presets_list: () => [],
      spec_open_file: () => specOpened(),
      spec_parameter_check: parameterCheck,
    });
    render(App);
    await userEvent.click(await screen.findByTestId("add-connection"));
    await userEvent.click(await screen.findByTestId("preset-spec"));
    await userEvent.click(screen.getByTestId("spec-choose-file"));
    expect(await screen.findByTestId("spec-form")).toBeInTheDocument();
    expect(screen.getByTestId("spec-name")).toHaveValue("Company CRM");
  });
});
