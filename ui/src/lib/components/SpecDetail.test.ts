import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import App from "../../App.svelte";
import type { ConnectionDto, StepReport } from "$lib/ipc";
import { mockBackend, specConnectionDto } from "../../test-fixtures";

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
