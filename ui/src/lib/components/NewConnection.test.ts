import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { ConnectionDraft, Draft, PresetDto } from "$lib/ipc";
import NewConnection from "./NewConnection.svelte";
import { mockBackend, presetDto, template } from "../../test-fixtures";
import { forgetTemplate } from "$lib/state/template";

const noop = () => {};

const GITHUB = presetDto();
const MAKE = presetDto(
  {
    id: "make",
    name: "Make",
    register_url: "https://www.make.com/en/help/apps",
    client_secret_required: false,
    redirect_uri: "https://www.make.com/oauth/cb/app",
    scopes: [{ name: "openid", description: "Know who you are.", default: true, required: true }],
    notes: [],
  },
  {
    authorize_url: "https://www.make.com/oauth/v2/authorize",
    token_url: "https://www.make.com/oauth/v2/token",
    info_url: null,
    client_auth: "body",
    redirect_uri_override: "https://www.make.com/oauth/cb/app",
  },
);

/** The engine's draft for a preset, as `preset_draft` returns it: no secret yet, so no client authentication. */
function draftOf(p: PresetDto): Draft {
  return {
    ...template().draft,
    ...p.settings,
    name: p.name,
    client_auth: "none",
    scopes: p.scopes.filter((scope) => scope.default || scope.required).map((scope) => scope.name),
  };
}

function backend(extra: Parameters<typeof mockBackend>[0] = {}) {
  return mockBackend({
    presets_list: () => [GITHUB, MAKE],
    preset_draft: ({ id }) => draftOf(id === "make" ? MAKE : GITHUB),
    connection_check: () => [],
    ...extra,
  });
}

describe("adding a connection", () => {
  it("starts with the providers, Custom / other provider last, and filters them as you type", async () => {
    backend();
    render(NewConnection, { onsaved: noop, oncancel: noop });
    await screen.findAllByTestId("preset-card");
    const names = [...screen.getByRole("list", { name: "Services" }).querySelectorAll(".name")].map((name) => name.textContent);
    expect(names).toEqual(["GitHub", "Make", "Trello", "Custom / other provider"]);
    await userEvent.type(screen.getByTestId("preset-search"), "make.com");
    expect(screen.getAllByTestId("preset-card").map((card) => card.dataset.preset)).toEqual(["make"]);
    expect(screen.getByTestId("preset-custom")).toBeInTheDocument();
  });

  it("picking a preset leaves only client ID, secret and scopes to fill", async () => {
    const calls = backend({
      connection_create: ({ draft }) => ({ ...(draft as ConnectionDraft), id: "cn_new" }),
    });
    const onsaved = vi.fn();
    render(NewConnection, { onsaved, oncancel: noop });
    await userEvent.click(await screen.findByRole("button", { name: /GitHub/ }));

    expect(await screen.findByRole("heading", { name: "Add GitHub" })).toBeInTheDocument();
    expect(screen.getByRole("textbox", { name: "Connection name" })).toHaveValue("GitHub");
    // The endpoints are filled in and out of the way.
    expect(document.querySelector('input[name="authorize_url"]')).toBeNull();
    expect(document.querySelector('input[name="token_url"]')).toBeNull();
    expect(screen.queryByTestId("flow-type")).toBeNull();
    // What to register at the provider.
    const guide = screen.getByTestId("preset-guide");
    expect(within(guide).getByTestId("preset-redirect-uri")).toHaveTextContent("http://127.0.0.1/callback");
    expect(within(guide).getByTestId("copy-preset-redirect")).toBeInTheDocument();
    expect(guide).toHaveTextContent("GitHub returns errors with HTTP 200.");
    // The known scopes, each with its one-line description; the default one is already chosen.
    const options = screen.getAllByTestId("scope-option");
    expect(options.map((option) => option.dataset.scope)).toEqual(["read:user", "repo"]);
    expect(options[1]).toHaveTextContent("Read and write your repositories.");
    expect(options[0]).toHaveAttribute("aria-pressed", "true");
    await userEvent.click(options[1]);
    expect(options[1]).toHaveAttribute("aria-pressed", "true");
    expect(screen.getAllByTestId("scope-chip").map((chip) => chip.textContent?.match(/read:user|repo/)?.[0])).toEqual(["read:user", "repo"]);

    await userEvent.type(screen.getByRole("textbox", { name: "Client ID" }), "Iv1.abc");
    await userEvent.type(document.querySelector<HTMLInputElement>('input[name="client_secret"]')!, "s3cret");
    await waitFor(() => expect(screen.getByTestId("save")).toBeEnabled());
    await userEvent.click(screen.getByTestId("save"));
    await waitFor(() => expect(onsaved).toHaveBeenCalled());
    const draft = calls.lastArgs("connection_create")!.draft as ConnectionDraft;
    expect(draft).toMatchObject({
      name: "GitHub",
      client_id: "Iv1.abc",
      token_url: "https://github.com/login/oauth/access_token",
      scopes: ["read:user", "repo"],
      // The preset knows GitHub wants the secret in a Basic header.
      client_auth: "basic",
      client_secret: { kind: "set", value: "s3cret" },
    });
  });

  it("says a provider that needs a secret has none when Save is pressed, and saves nothing", async () => {
    const calls = backend();
    render(NewConnection, { onsaved: noop, oncancel: noop });
    await userEvent.click(await screen.findByRole("button", { name: /GitHub/ }));
    await userEvent.type(await screen.findByRole("textbox", { name: "Client ID" }), "Iv1.abc");
    expect(screen.queryByTestId("error-client_secret")).toBeNull();
    await userEvent.click(screen.getByTestId("save"));
    expect(await screen.findByTestId("error-client_secret")).toHaveTextContent("GitHub needs your app's client secret.");
    expect(document.querySelector('input[name="client_secret"]')).toHaveFocus();
    expect(screen.getByTestId("fix-count")).toHaveTextContent("1 thing needs fixing");
    expect(calls.called("connection_create")).toHaveLength(0);
  });

  it("opens the provider's registration page in the browser", async () => {
    const calls = backend({ "plugin:opener|open_url": () => null });
    render(NewConnection, { onsaved: noop, oncancel: noop });
    await userEvent.click(await screen.findByRole("button", { name: /GitHub/ }));
    await userEvent.click(await screen.findByTestId("open-registration"));
    expect(calls.lastArgs("plugin:opener|open_url")).toMatchObject({ url: "https://github.com/settings/applications/new" });
  });

  it("shows a hosted redirect to register as is, and keeps a required scope chosen", async () => {
    backend();
    render(NewConnection, { onsaved: noop, oncancel: noop });
    await userEvent.click(await screen.findByRole("button", { name: /^Make/ }));
    expect(await screen.findByTestId("preset-redirect-uri")).toHaveTextContent("https://www.make.com/oauth/cb/app");
    const [required] = screen.getAllByTestId("scope-option");
    expect(required.dataset.scope).toBe("openid");
    expect(required).toHaveTextContent("always requested");
    expect(required).toBeDisabled();
  });

  it("goes back to the providers, and Custom gives the full form with Discover", async () => {
    backend();
    render(NewConnection, { onsaved: noop, oncancel: noop });
    await userEvent.click(await screen.findByRole("button", { name: /GitHub/ }));
    await userEvent.click(await screen.findByTestId("back-to-providers"));
    await userEvent.click(await screen.findByTestId("preset-custom"));
    expect(await screen.findByRole("heading", { name: "Add connection" })).toBeInTheDocument();
    expect(screen.getByRole("textbox", { name: "Connection name" })).toHaveValue("");
    expect(screen.getByTestId("discover")).toBeInTheDocument();
    expect(document.querySelector('input[name="token_url"]')).not.toBeNull();
  });

  it("starts a preset's form from the engine's draft for it", async () => {
    const calls = backend({
      preset_draft: () => ({ ...draftOf(GITHUB), name: "GitHub (engine)", token_url: "https://github.example/engine-token" }),
    });
    render(NewConnection, { onsaved: noop, oncancel: noop });
    await userEvent.click(await screen.findByRole("button", { name: /GitHub/ }));
    expect(await screen.findByRole("textbox", { name: "Connection name" })).toHaveValue("GitHub (engine)");
    expect(calls.lastArgs("preset_draft")).toEqual({ id: "github" });
    await userEvent.click(screen.getByTestId("advanced-toggle"));
    expect(document.querySelector<HTMLInputElement>('input[name="token_url"]')?.value).toBe("https://github.example/engine-token");
  });

  it("says why a preset's form cannot start and goes back to the providers", async () => {
    backend({
      preset_draft: () => {
        throw { code: "not_found", message: "Latch has no preset called github.", fields: [], action: { action: "show_presets" }, provider: null, details: null };
      },
    });
    render(NewConnection, { onsaved: noop, oncancel: noop });
    await userEvent.click(await screen.findByRole("button", { name: /GitHub/ }));
    expect(await screen.findByTestId("form-error-message")).toHaveTextContent("Latch has no preset called github.");
    expect(screen.queryByTestId("connection-form")).toBeNull();
    await userEvent.click(screen.getByTestId("back-to-providers"));
    expect(await screen.findByTestId("preset-picker")).toBeInTheDocument();
  });

  it("reads a preset's sign-in host from its settings, for the search", async () => {
    backend();
    render(NewConnection, { onsaved: noop, oncancel: noop });
    await screen.findAllByTestId("preset-card");
    expect(screen.getByRole("button", { name: /GitHub/ })).toHaveTextContent("github.com");
  });
});

describe("choosing the provider", () => {
  const ACADEMY = presetDto({ id: "app-academy", name: "Make App Academy API v2", training: true });

  it("lists training services only under “Show developer and training services”", async () => {
    backend({ presets_list: () => [GITHUB, MAKE, ACADEMY] });
    render(NewConnection, { onsaved: noop, oncancel: noop });
    await screen.findAllByTestId("preset-card");
    const listed = () => screen.getAllByTestId("preset-card").map((card) => card.dataset.preset);
    expect(listed()).toEqual(["github", "make"]);
    await userEvent.type(screen.getByTestId("preset-search"), "academy");
    expect(screen.getByTestId("training-hint")).toHaveTextContent("A training service matches");
    await userEvent.click(screen.getByRole("checkbox", { name: "Show developer and training services" }));
    expect(listed()).toEqual(["app-academy"]);
  });

  it("carries an address typed in the search into the Issuer field of Custom / other provider", async () => {
    backend();
    render(NewConnection, { onsaved: noop, oncancel: noop });
    await userEvent.type(await screen.findByTestId("preset-search"), "https://id.example.com");
    expect(screen.getByTestId("preset-custom")).toHaveTextContent("https://id.example.com");
    await userEvent.click(screen.getByTestId("preset-custom"));
    expect(await screen.findByRole("textbox", { name: "Issuer or provider address" })).toHaveValue("https://id.example.com");
  });

  it("goes to Custom with the address on Enter when no service matches it", async () => {
    backend();
    render(NewConnection, { onsaved: noop, oncancel: noop });
    await userEvent.type(await screen.findByTestId("preset-search"), "login.example.org{Enter}");
    expect(await screen.findByRole("textbox", { name: "Issuer or provider address" })).toHaveValue("https://login.example.org");
  });

  it("puts the cursor in the first field after choosing a provider", async () => {
    backend();
    render(NewConnection, { onsaved: noop, oncancel: noop });
    await userEvent.click(await screen.findByRole("button", { name: /GitHub/ }));
    await waitFor(() => expect(screen.getByRole("textbox", { name: "Connection name" })).toHaveFocus());
    await userEvent.click(screen.getByTestId("back-to-providers"));
    forgetTemplate();
    await userEvent.click(await screen.findByTestId("preset-custom"));
    await waitFor(() => expect(screen.getByRole("textbox", { name: "Connection name" })).toHaveFocus());
  });
});
