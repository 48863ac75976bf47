import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import App from "../../App.svelte";
import type { ConnectionDto, StepReport } from "$lib/ipc";
import { mockBackend, specConnectionDto, specOpened } from "../../test-fixtures";

async function openDetail(connection: ConnectionDto, handlers: Parameters<typeof mockBackend>[0] = {}) {
  const backend = mockBackend({ connections_list: () => [connection], ...handlers });
  render(App);
  await userEvent.click(await screen.findByTestId("connection-row"));
  return backend;
}

const openMore = () => userEvent.click(screen.getByTestId("more-actions"));

afterEach(() => vi.restoreAllMocks());

describe("the detail of a connection made from a spec", () => {
  it("shows its host, account, scopes by their labels, the values typed in and where the secrets are", async () => {
    await openDetail(specConnectionDto({ status: "connected", account: "Jane Doe", has_refresh_token: true }));
    expect(screen.getByTestId("detail-status")).toHaveTextContent("Connected");
    expect(screen.getByTestId("account")).toHaveTextContent("Jane Doe");
    const facts = within(screen.getByTestId("spec-facts"));
    expect(facts.getByTestId("spec-host")).toHaveTextContent("crm.example.com");
    expect(facts.getAllByTestId("spec-value").map((v) => v.textContent)).toEqual(["acme", "Europe", "Yes"]);
    expect(facts.getByTestId("spec-common-saved")).toHaveTextContent("Saved in your keyring");
    expect(facts.getByTestId("spec-renews")).toHaveTextContent("Renews automatically");
    expect(screen.getAllByTestId("scope").map((s) => s.textContent)).toEqual(["Read your records (read)"]);
  });

  it("has the same actions as any connection, with Spec and steps instead of Edit settings", async () => {
    await openDetail(specConnectionDto({ status: "new" }));
    expect(screen.getByTestId("connect")).toHaveTextContent("Sign in");
    await openMore();
    const menu = within(screen.getByRole("menu"));
    expect(menu.getByTestId("refresh")).toBeInTheDocument();
    expect(menu.getByTestId("copy-token")).toBeInTheDocument();
    expect(menu.getByTestId("disconnect")).toBeInTheDocument();
    expect(menu.getByTestId("delete")).toBeInTheDocument();
    expect(menu.getByTestId("open-spec")).toBeInTheDocument();
    expect(menu.queryByTestId("edit")).toBeNull();
  });

  it("runs Check account and shows the requests sent and the data keys", async () => {
    const report: StepReport = {
      requests: [
        {
          step: "info",
          method: "GET",
          url: "https://crm.example.com/api/me",
          request_headers: [["authorization", "Bearer [redacted]"]],
          request_body: null,
          status: 200,
          response_body: '{"user":"Jane Doe"}',
        },
      ],
      data_keys: ["accessToken"],
      account: "Jane Doe",
    };
    const engine = await openDetail(specConnectionDto({ status: "connected", has_refresh_token: true }), {
      spec_schema: () => "{}",
      spec_step_run: () => report,
    });
    await userEvent.click(screen.getByTestId("show-spec"));
    await userEvent.click(await screen.findByTestId("run-info"));
    expect(await screen.findByTestId("step-account")).toHaveTextContent("Jane Doe");
    expect(screen.getByTestId("step-request")).toHaveTextContent("authorization: Bearer [redacted]");
    expect(screen.getByTestId("step-data-keys")).toHaveTextContent("accessToken");
    expect(engine.lastArgs("spec_step_run")).toEqual({ id: "cn_spec", step: "info" });
  });

  it("refuses an invalid spec with the engine's problems and keeps the working one", async () => {
    const engine = await openDetail(specConnectionDto(), {
      spec_schema: () => "{}",
      spec_open_text: () => ({ problems: ["communication: the spec has no 'token' step."], secret_hosts: [] }),
    });
    await userEvent.click(screen.getByTestId("show-spec"));
    await waitFor(() => expect(screen.getByTestId("save-spec")).toBeEnabled());
    await userEvent.click(screen.getByTestId("save-spec"));
    expect(await screen.findByTestId("spec-save-problems")).toHaveTextContent("The working spec is unchanged");
    expect(screen.getByTestId("spec-problem")).toHaveTextContent("no 'token' step");
    expect(engine.called("spec_edit")).toHaveLength(0);
  });

  it("saves a spec the engine finds nothing wrong with, asking first when it sends a secret elsewhere", async () => {
    const engine = await openDetail(specConnectionDto(), {
      spec_schema: () => "{}",
      spec_open_text: () => ({ problems: [], secret_hosts: ["collector.example.net"] }),
      spec_edit: () => specConnectionDto(),
    });
    await userEvent.click(screen.getByTestId("show-spec"));
    await waitFor(() => expect(screen.getByTestId("save-spec")).toBeEnabled());
    await userEvent.click(screen.getByTestId("save-spec"));
    expect(await screen.findByTestId("secret-hosts")).toHaveTextContent("This spec sends your app secret to collector.example.net");
    expect(engine.called("spec_edit")).toHaveLength(0);
    await userEvent.click(screen.getByTestId("confirm-secret-hosts"));
    await userEvent.click(screen.getByTestId("save-spec"));
    expect(await screen.findByTestId("spec-saved")).toHaveTextContent("Spec saved.");
    const args = engine.lastArgs("spec_edit")!;
    expect(args.id).toBe("cn_spec");
    expect(args.acceptedSecretHosts).toEqual(["collector.example.net"]);
    expect(JSON.parse(args.text as string).name).toBe("Company CRM");
  });
});

describe("Change values… of a spec connection", () => {
  it("starts from the saved values with secrets never shown, and saves through spec_edit without a new sign-in", async () => {
    const saved = specConnectionDto({
      status: "connected",
      has_refresh_token: true,
      account: "Jane Doe",
      parameters: { tenant: "acme", region: "eu", sandbox: true, site: "https://acme.example" },
    });
    const engine = await openDetail(saved, {
      spec_open_text: () => specOpened(),
      spec_parameter_check: () => null,
      connection_check: () => [],
      spec_edit: () => ({ ...saved, parameters: { tenant: "globex", region: "us", sandbox: true } }),
    });
    await userEvent.click(screen.getByTestId("show-change-values"));
    const form = await screen.findByTestId("spec-form");
    expect(within(form).getByRole("heading", { name: "Change values of Company CRM" })).toBeInTheDocument();
    // The add form's own parts are not there: no name, no redirect URI to register.
    expect(screen.queryByTestId("spec-name")).toBeNull();
    expect(screen.queryByTestId("redirect-top")).toBeNull();
    expect(screen.getByLabelText(/^Tenant/)).toHaveValue("acme");
    expect(screen.getByLabelText(/^Site address/)).toHaveValue("https://acme.example");
    expect((screen.getByLabelText(/^Region/) as HTMLSelectElement).selectedOptions[0]).toHaveTextContent("Europe");
    expect(screen.getByLabelText("Use the sandbox")).toBeChecked();
    // Secrets: masked, empty, "empty keeps".
    const apiKey = screen.getByLabelText(/^API key/);
    expect(apiKey).toHaveAttribute("type", "password");
    expect(apiKey).toHaveValue("");
    expect(apiKey).toHaveAttribute("placeholder", "Saved — type to replace");
    const commons = screen.getAllByTestId("spec-common");
    expect(commons.map((c) => (c as HTMLInputElement).value)).toEqual(["", ""]);
    expect(commons.find((c) => c.dataset.key === "clientSecret")).toHaveAttribute("type", "password");
    expect(screen.getAllByTestId("spec-scope").filter((s) => (s as HTMLInputElement).checked).map((s) => (s as HTMLInputElement).value)).toEqual(["read"]);

    const user = userEvent.setup();
    await user.clear(screen.getByLabelText(/^Tenant/));
    await user.type(screen.getByLabelText(/^Tenant/), "globex");
    await user.clear(screen.getByLabelText(/^Site address/));
    await user.selectOptions(screen.getByLabelText(/^Region/), "United States");
    await user.type(commons.find((c) => c.dataset.key === "clientSecret")!, "n3w-s3cret");
    await user.click(screen.getAllByTestId("spec-scope")[1]);
    await user.click(screen.getByTestId("save"));

    await waitFor(() => expect(engine.called("spec_edit")).toHaveLength(1));
    const args = engine.lastArgs("spec_edit")!;
    expect(args.id).toBe("cn_spec");
    expect(args.text).toBeNull();
    const parameters = args.parameters as Record<string, unknown>;
    expect(parameters).toMatchObject({ tenant: "globex", region: "us", sandbox: true, site: null });
    // A secret parameter left empty keeps the saved one: it is not sent at all.
    expect("apiKey" in parameters).toBe(false);
    expect(args.common).toEqual({ clientSecret: "n3w-s3cret" });
    expect(args.scopes).toEqual(["read", "write"]);
    // The API section goes with the values, as saved when nothing there changed.
    expect(args.api).toEqual({ api_base_url: null, allowed_hosts: [], forward_caller_auth: false });
    // Back to the facts, still signed in, no sign-in started.
    await waitFor(() => expect(screen.queryByTestId("spec-form")).toBeNull());
    expect(within(screen.getByTestId("spec-facts")).getAllByTestId("spec-value")[0]).toHaveTextContent("globex");
    expect(screen.getByTestId("detail-status")).toHaveTextContent("Connected");
    expect(engine.called("sign_in_start")).toHaveLength(0);
  });

  it("is in the More menu too, and Cancel on a changed form asks before throwing it away", async () => {
    await openDetail(specConnectionDto({ status: "connected", has_refresh_token: true }), {
      spec_open_text: () => specOpened(),
      spec_parameter_check: () => null,
    });
    await openMore();
    await userEvent.click(within(screen.getByRole("menu")).getByTestId("change-values"));
    const tenant = await screen.findByLabelText(/^Tenant/);
    await userEvent.type(tenant, "x");
    await userEvent.click(screen.getByTestId("cancel"));
    expect(await screen.findByRole("alertdialog", { name: "Discard changes?" })).toBeInTheDocument();
    await userEvent.click(screen.getByTestId("confirm-discard"));
    await waitFor(() => expect(screen.queryByTestId("spec-form")).toBeNull());
    expect(screen.getByTestId("spec-facts")).toBeInTheDocument();
  });
});
