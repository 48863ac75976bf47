import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { emit } from "@tauri-apps/api/event";
import { describe, expect, it } from "vitest";
import type { OAuth2ConnectionDraft, TeamDto, TeamJoinDto } from "$lib/ipc";
import { CONNECTIONS_CONTEXT, ConnectionsState } from "$lib/state/connections.svelte";
import { connectionDto, mockBackend, teamDto } from "../../test-fixtures";
import ConnectionForm from "./ConnectionForm.svelte";
import ConnectionList from "./ConnectionList.svelte";
import TeamJoinForm from "./TeamJoinForm.svelte";
import TeamSettings from "./TeamSettings.svelte";
import App from "../../App.svelte";

const TOKEN = "s.0penBaoT0kenThatMustNeverShow";

/** Today at hh:mm, local time, as the engine sends it (UTC). */
const todayAt = (hours: number, minutes: number) => {
  const at = new Date();
  at.setHours(hours, minutes, 0, 0);
  return at.toISOString();
};

async function fillPlace(user: ReturnType<typeof userEvent.setup>) {
  await user.type(screen.getByLabelText("Team name"), "sales");
  await user.type(screen.getByLabelText("Server address"), "https://bao.example.com:8200");
  await user.type(screen.getByLabelText("Team folder"), "teams/sales");
}

describe("the join form", () => {
  it("says what is missing beside each field and sends nothing until it is filled", async () => {
    const backend = mockBackend({});
    render(TeamJoinForm, { onjoined: () => {}, oncancel: () => {} });
    const user = userEvent.setup();
    expect(screen.getByLabelText("Secrets mount")).toHaveValue("secret");
    await user.click(screen.getByRole("button", { name: "Join team" }));
    expect(screen.getByTestId("team-error-name")).toHaveTextContent("Give the team a name");
    expect(screen.getByTestId("team-error-addr")).toHaveTextContent("server address");
    expect(screen.getByTestId("team-error-path")).toHaveTextContent("team's folder");
    expect(screen.getByTestId("team-error-token")).toHaveTextContent("Paste the token");
    expect(screen.getByLabelText("Team name")).toHaveAttribute("aria-invalid", "true");
    await waitFor(() => expect(document.activeElement).toBe(screen.getByLabelText("Team name")));
    expect(backend.called("team_join")).toHaveLength(0);
  });

  it("shows the fields of the sign-in method chosen, and sends only that method's", async () => {
    const backend = mockBackend({ team_join: () => ({ added: [], updated: [], removed: [], skipped: [] }) });
    let joined: string | null = null;
    render(TeamJoinForm, { onjoined: (name: string) => (joined = name), oncancel: () => {} });
    const user = userEvent.setup();
    expect(screen.getByLabelText("Your token")).toHaveAttribute("type", "password");
    expect(screen.queryByLabelText("Username")).toBeNull();

    await user.click(screen.getByRole("radio", { name: "Username and password" }));
    expect(screen.queryByLabelText("Your token")).toBeNull();
    expect(screen.getByLabelText("Password")).toHaveAttribute("type", "password");
    expect(screen.getByLabelText("Sign-in path (optional)")).toHaveAttribute("placeholder", "userpass");

    await user.click(screen.getByRole("radio", { name: "AppRole" }));
    expect(screen.queryByLabelText("Password")).toBeNull();
    expect(screen.getByLabelText("Role ID")).toBeInTheDocument();
    expect(screen.getByLabelText("Secret ID")).toHaveAttribute("type", "password");
    expect(screen.getByLabelText("Sign-in path (optional)")).toHaveAttribute("placeholder", "approle");

    await user.click(screen.getByRole("radio", { name: "Username and password" }));
    await fillPlace(user);
    await user.type(screen.getByLabelText("Username"), "ana");
    await user.click(screen.getByRole("button", { name: "Join team" }));
    expect(screen.getByTestId("team-error-password")).toHaveTextContent("Enter your password");
    expect(screen.queryByTestId("team-error-role_id")).toBeNull();
    await user.type(screen.getByLabelText("Password"), "hunter22");
    await user.click(screen.getByRole("button", { name: "Join team" }));

    await waitFor(() => expect(joined).toBe("sales"));
    expect(backend.lastArgs("team_join")).toEqual({
      join: {
        name: "sales",
        addr: "https://bao.example.com:8200",
        mount: "secret",
        path: "teams/sales",
        ca_file: null,
        sign_in: { method: "userpass", mount: "", username: "ana", password: "hunter22" },
      } satisfies TeamJoinDto,
    });
  });

  it("puts the engine's words beside the field they are about, and keeps the token out of the page's markup", async () => {
    mockBackend({
      team_join: () => {
        throw {
          code: "validation",
          message: "The OpenBao address needs https.",
          fields: [{ field: "addr", message: "The OpenBao address 'http://bao.example.com' needs https." }],
        };
      },
    });
    render(TeamJoinForm, { onjoined: () => {}, oncancel: () => {} });
    const user = userEvent.setup();
    await fillPlace(user);
    await user.type(screen.getByLabelText("Your token"), TOKEN);
    await user.click(screen.getByRole("button", { name: "Join team" }));
    expect(await screen.findByTestId("team-error-addr")).toHaveTextContent("needs https");
    expect(document.body.innerHTML).not.toContain(TOKEN);
  });

  it("offers the CA certificate from a file, by its name", async () => {
    mockBackend({ team_ca_choose: () => "/home/ana/certs/team-ca.pem" });
    render(TeamJoinForm, { onjoined: () => {}, oncancel: () => {} });
    const user = userEvent.setup();
    await user.click(screen.getByRole("button", { name: "Choose file…" }));
    expect(await screen.findByTestId("team-ca-chosen")).toHaveTextContent("team-ca.pem");
    await user.click(screen.getByRole("button", { name: "Remove" }));
    expect(screen.queryByTestId("team-ca-chosen")).toBeNull();
  });
});

describe("Settings → Team", () => {
  it("lists each joined team with whether its store answers, syncs it and leaves it after asking", async () => {
    let teams: TeamDto[] = [teamDto(), teamDto({ name: "ops", path: "teams/ops", ca_file: "/etc/ssl/company-ca.pem", unreachable_since: todayAt(10, 42), reason: "refused" })];
    const backend = mockBackend({
      teams_list: () => teams,
      team_sync: () => ({ added: ["CRM"], updated: [], removed: [], skipped: [] }),
      team_leave: () => {
        teams = teams.filter((team) => team.name !== "sales");
        return ["CRM"];
      },
    });
    render(TeamSettings);
    const user = userEvent.setup();
    const [sales, ops] = await screen.findAllByTestId("team-joined");
    expect(within(sales).getByTestId("team-state")).toHaveTextContent("Reachable");
    expect(within(ops).getByTestId("team-state")).toHaveTextContent("Unreachable");
    expect(within(ops).getByTestId("team-ca")).toHaveTextContent("Trusts the certificate authority in company-ca.pem.");
    expect(within(sales).queryByTestId("team-ca")).toBeNull();
    expect(within(ops).getByTestId("team-unreachable")).toHaveTextContent(
      "Team store unreachable since 10:42. Latch keeps using the tokens it has and tries again by itself.",
    );

    await user.click(within(sales).getByRole("button", { name: "Sync now" }));
    expect(await within(sales).findByTestId("team-note")).toHaveTextContent("Added “CRM”.");
    expect(backend.lastArgs("team_sync")).toEqual({ name: "sales" });

    await user.click(within(sales).getByRole("button", { name: "Leave team…" }));
    const dialog = await screen.findByRole("alertdialog", { name: "Leave team “sales”?" });
    expect(dialog).toHaveTextContent("Nothing changes for the rest of the team");
    expect(backend.called("team_leave")).toHaveLength(0);
    await user.click(within(dialog).getByRole("button", { name: "Leave team" }));
    expect(await screen.findByTestId("team-left")).toHaveTextContent("Left “sales”. 1 connection was removed from this computer.");
    await waitFor(() => expect(screen.getAllByTestId("team-joined")).toHaveLength(1));
  });

  it("signs in to a team again with only the secret asked for, its place and username kept", async () => {
    const team = teamDto({ sign_in_method: "userpass", sign_in_mount: "people", sign_in_user: "ana" });
    const backend = mockBackend({ teams_list: () => [team], team_join: () => ({ added: [], updated: [], removed: [], skipped: [] }) });
    render(TeamSettings);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Sign in again…" }));
    const form = screen.getByRole("form", { name: "Sign in to “sales” again" });
    expect(within(form).queryByLabelText("Team name")).toBeNull();
    expect(within(form).queryByLabelText("Server address")).toBeNull();
    expect(within(form).getByRole("radio", { name: "Username and password" })).toBeChecked();
    expect(within(form).getByLabelText("Username")).toHaveValue("ana");
    expect(within(form).getByLabelText("Sign-in path (optional)")).toHaveValue("people");
    await user.type(within(form).getByLabelText("Password"), "hunter22");
    await user.click(within(form).getByRole("button", { name: "Sign in" }));
    expect(await screen.findByTestId("team-note")).toHaveTextContent("Signed in again.");
    expect(screen.queryByRole("form")).toBeNull();
    expect(backend.lastArgs("team_join")).toEqual({
      join: {
        name: "sales",
        addr: "https://bao.example:8200",
        mount: "secret",
        path: "teams/sales",
        ca_file: null,
        sign_in: { method: "userpass", mount: "people", username: "ana", password: "hunter22" },
      },
    });
  });

  it("opens the join form from a button, and closes it once joined", async () => {
    mockBackend({ teams_list: () => [], team_join: () => ({ added: ["CRM", "Mail"], updated: [], removed: [], skipped: [] }) });
    render(TeamSettings);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Join a team…" }));
    await fillPlace(user);
    await user.type(screen.getByLabelText("Your token"), TOKEN);
    await user.click(screen.getByRole("button", { name: "Join team" }));
    await waitFor(() => expect(screen.queryByTestId("team-join-form")).toBeNull());
    expect(document.body.innerHTML).not.toContain(TOKEN);
  });
});

describe("team sections in the list", () => {
  const list = () => [
    connectionDto({ id: "cn_crm", name: "CRM", team: "sales" }),
    connectionDto({ id: "cn_mine", name: "My Drive" }),
    connectionDto({ id: "cn_mail", name: "Mail", team: "sales" }),
  ];

  it("shows the personal connections first, then each team's under “Team: name”", () => {
    render(ConnectionList, { connections: list(), teams: [teamDto()], selectedId: null, onselect: () => {} });
    const rows = screen.getAllByTestId("connection-row").map((row) => row.dataset.name);
    expect(rows).toEqual(["My Drive", "CRM", "Mail"]);
    expect(screen.getByTestId("section-personal")).toHaveTextContent("Personal");
    const heading = screen.getByRole("heading", { name: "Team: sales" });
    expect(heading.closest("li")).toHaveAttribute("data-id", "cn_crm");
    expect(screen.queryByTestId("team-banner")).toBeNull();
  });

  it("puts a calm banner over a team whose store does not answer", () => {
    render(ConnectionList, {
      connections: list(),
      teams: [teamDto({ unreachable_since: todayAt(10, 42), reason: "connection refused" })],
      selectedId: null,
      onselect: () => {},
    });
    const banner = screen.getByTestId("team-banner");
    expect(banner).toHaveTextContent("Team store unreachable since 10:42. Latch keeps using the tokens it has.");
    expect(banner).not.toHaveTextContent("refused");
  });

  it("says so when a joined team has no connections yet, and has no sections without teams", () => {
    const { unmount } = render(ConnectionList, {
      connections: [connectionDto({ id: "cn_mine", name: "My Drive" })],
      teams: [teamDto()],
      selectedId: null,
      onselect: () => {},
    });
    expect(screen.getByRole("heading", { name: "Team: sales" }).parentElement).toHaveTextContent("No team connections yet.");
    unmount();
    render(ConnectionList, { connections: [connectionDto({ id: "cn_mine", name: "My Drive" })], selectedId: null, onselect: () => {} });
    expect(screen.queryByRole("heading")).toBeNull();
  });
});

describe("the add form's Keep in", () => {
  async function renderInApp(teams: TeamDto[]) {
    const state = new ConnectionsState();
    state.teams = teams;
    render(ConnectionForm, { props: { onsaved: () => {}, oncancel: () => {} }, context: new Map([[CONNECTIONS_CONTEXT, state]]) });
    await screen.findByTestId("connection-form");
  }

  it("keeps a new connection in the team chosen, through the same save", async () => {
    const backend = mockBackend({
      connection_check: () => [],
      connection_create: ({ draft, team }) => connectionDto({ ...(draft as OAuth2ConnectionDraft), id: "cn_new", team: team as string }),
    });
    await renderInApp([teamDto()]);
    const user = userEvent.setup();
    expect(screen.getByRole("radio", { name: "Just me" })).toBeChecked();
    await user.type(screen.getByRole("textbox", { name: "Connection name" }), "CRM");
    await user.click(screen.getByRole("radio", { name: "Team: sales" }));
    expect(screen.getByTestId("keep-in")).toHaveTextContent("everyone in “sales” can use it");
    await waitFor(() => expect(screen.getByTestId("save")).toBeEnabled());
    await user.click(screen.getByTestId("save"));
    await waitFor(() => expect(backend.called("connection_create")).toHaveLength(1));
    expect(backend.lastArgs("connection_create")!.team).toBe("sales");
  });

  it("is not offered before a team is joined, and saves just for me", async () => {
    const backend = mockBackend({
      connection_check: () => [],
      connection_create: ({ draft }) => connectionDto({ ...(draft as OAuth2ConnectionDraft), id: "cn_new" }),
    });
    await renderInApp([]);
    expect(screen.queryByTestId("keep-in")).toBeNull();
    const user = userEvent.setup();
    await user.type(screen.getByRole("textbox", { name: "Connection name" }), "Mine");
    await waitFor(() => expect(screen.getByTestId("save")).toBeEnabled());
    await user.click(screen.getByTestId("save"));
    await waitFor(() => expect(backend.called("connection_create")).toHaveLength(1));
    expect(backend.lastArgs("connection_create")!.team).toBeNull();
  });
});

describe("teams in the app", () => {
  it("puts the banner over the team's section when the engine says its store stopped answering", async () => {
    let teams = [teamDto()];
    mockBackend({
      connections_list: () => [connectionDto({ id: "cn_mine", name: "My Drive" }), connectionDto({ id: "cn_crm", name: "CRM", team: "sales" })],
      teams_list: () => teams,
    });
    render(App);
    expect(await screen.findByRole("heading", { name: "Team: sales" })).toBeInTheDocument();
    expect(screen.queryByTestId("team-banner")).toBeNull();
    teams = [teamDto({ unreachable_since: todayAt(10, 42), reason: "connection refused" })];
    await emit("teams-changed", "sales");
    expect(await screen.findByTestId("team-banner")).toHaveTextContent("Team store unreachable since 10:42.");
    teams = [teamDto()];
    await emit("teams-changed", "sales");
    await waitFor(() => expect(screen.queryByTestId("team-banner")).toBeNull());
  });

  it("opens Settings → Team with the keyboard on it when the notification's button is clicked", async () => {
    mockBackend({
      connections_list: () => [connectionDto({ id: "cn_crm", name: "CRM", team: "sales" })],
      teams_list: () => [teamDto({ unreachable_since: todayAt(10, 42) })],
      settings_get: () => ({
        start_at_login: false,
        notify_reauth: true,
        notify_expiry: true,
        warn_ahead_hours: 24,
        usage_kept_days: 30,
        proxy_enabled: false,
        proxy_port: 0,
      }),
    });
    render(App);
    await screen.findByTestId("connection-row");
    await emit("open-team-settings", null);
    const heading = await screen.findByRole("heading", { name: "Team" });
    await waitFor(() => expect(heading).toHaveFocus());
    expect(screen.getByTestId("team-unreachable")).toHaveTextContent("Team store unreachable since 10:42.");
  });
});

describe("a team connection's detail", () => {
  it("says it is shared, and that Delete removes it for the whole team", async () => {
    mockBackend({ connections_list: () => [connectionDto({ id: "cn_crm", name: "CRM", team: "sales" })], teams_list: () => [teamDto()] });
    render(App);
    await userEvent.click(await screen.findByTestId("connection-row"));
    expect(screen.getByTestId("detail-team")).toHaveTextContent("Shared with team “sales”");
    await userEvent.click(screen.getByTestId("more-actions"));
    await userEvent.click(screen.getByTestId("delete"));
    expect(screen.getByRole("alertdialog")).toHaveTextContent("deleting it removes it from the team's store, for everyone in the team");
  });
});
