//! Teams in the real Latch window, against a real OpenBao (`bao server
//! -dev`): joining through Settings → Team with a token, a team connection
//! added from the command line in the same data directory showing under
//! "Team: sales" in the list, the calm banner once the team's store stops
//! answering, and leaving the team. The OpenBao token is looked for in the
//! data directory, in everything the CLI printed and in the page itself.
//! Screenshots under target/e2e-screenshots/team-*.png.

use latch_e2e::window::{within, Window};
use latch_e2e::{repo_root, Bao, Latch};

/// The client secret of the connection the other member keeps in the team: in the team's store only.
const MAIL_SECRET: &str = "mail-client-secret-4f1c9e";

fn writer_token(bao: &Bao) -> String {
    let hcl = std::fs::read_to_string(repo_root().join("docs/team/writer.hcl")).unwrap();
    bao.policy("latch-sales-writer", &hcl);
    bao.token(&["latch-sales-writer"])
}

/// One window at a time: the tests share the display and the keyring.
static ONE_WINDOW_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_joined_in_settings_shows_its_connections_says_when_its_store_is_down_and_can_be_left() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(240, async {
        let bao = Bao::start();
        let token = writer_token(&bao);
        let latch = Latch::new();
        latch.ok(&[
            "add",
            "--name",
            "My Drive",
            "--flow",
            "authorization_code",
            "--client-id",
            "drive-app",
            "--authorize-url",
            "https://drive.example.com/oauth/authorize",
            "--token-url",
            "https://drive.example.com/oauth/token",
        ]);
        let window = Window::open(&latch).await;

        // Settings → Team → Join a team…: the form asks for nothing technical beyond what the admin gave.
        window.click("open-settings").await;
        window.click("team-join-open").await;
        window.testid("team-join-form").await;
        window.click("team-join-submit").await;
        assert!(window.shown("[data-testid='team-error-name']").await.contains("Give the team a name"));
        window.fill("team_name", "sales").await;
        window.fill("team_addr", &bao.addr).await;
        window.fill("team_path", "teams/sales").await;
        window.fill("team_token", &token).await;
        window.screenshots("team-join", Some("[data-testid='team-join-form']"), "start").await;
        window.click("team-join-submit").await;
        let note = window.shown("[data-testid='team-note']").await;
        assert_eq!(note, "Joined. The team's connections show in your list under “Team: sales”.");
        assert_eq!(window.shown("[data-testid='team-state']").await, "Reachable");
        assert!(!window.exists("[data-testid='team-join-form']").await, "the form closes once joined");
        let page = window.client.source().await.unwrap();
        assert!(!page.contains(&token), "the OpenBao token is not in the page after joining");
        // The joined team, empty, in the list under the personal connections.
        assert_eq!(window.shown("[data-testid='section-personal']").await, "Personal");
        assert_eq!(window.shown("[data-testid='section-team']").await, "Team: sales");

        // Another member (here: the command line on this computer) keeps a connection in the team.
        let out = latch.ok(&[
            "add",
            "--team",
            "sales",
            "--name",
            "Company CRM",
            "--flow",
            "authorization_code",
            "--client-id",
            "crm-app",
            "--authorize-url",
            "https://crm.example.com/oauth/authorize",
            "--token-url",
            "https://crm.example.com/oauth/token",
        ]);
        assert!(out.contains("Kept 'Company CRM' in team 'sales'"), "{out}");
        let row = "[data-testid='connection-row'][data-name='Company CRM']";
        window.wait_for(row).await;
        let section = window
            .client
            .execute(
                "return document.querySelector(arguments[0]).closest('li').querySelector('[data-testid=section-team]')?.textContent;",
                vec![row.into()],
            )
            .await
            .unwrap();
        assert_eq!(section.as_str(), Some("Team: sales"), "the team connection heads its team's section");
        window
            .until("Settings to count the team's connection", || async {
                window.text_of("[data-testid='team-joined']").await.contains("1 connection in your list")
            })
            .await;
        window.screenshots("team-settings", Some("[data-testid='team-settings']"), "start").await;

        // A second member, with a data directory of their own, keeps a connection in the team from the command
        // line; Sync now brings it here.
        let other = Latch::new();
        let joined = other.ok_with_stdin(
            &["team", "join", "sales", "--addr", &bao.addr, "--mount", "secret", "--path", "teams/sales"],
            &format!("{token}\n"),
        );
        assert!(joined.contains("Joined team 'sales'"), "{joined}");
        let out = other.ok_with_stdin(
            &[
                "add",
                "--team",
                "sales",
                "--name",
                "Shared Mail",
                "--flow",
                "client_credentials",
                "--client-id",
                "mail-app",
                "--client-secret-stdin",
                "--token-url",
                "https://mail.example.com/oauth/token",
            ],
            &format!("{MAIL_SECRET}\n"),
        );
        assert!(out.contains("Kept 'Shared Mail' in team 'sales'"), "{out}");
        window.click("team-sync").await;
        window.until("Sync now to say what it brought", || async { window.text_of("[data-testid='team-note']").await == "Added “Shared Mail”." }).await;
        window.wait_for("[data-testid='connection-row'][data-name='Shared Mail']").await;

        // The add form offers to keep a new connection in the team; saved there, the team's store has it.
        window.click("add-connection").await;
        window.click("preset-custom").await;
        window.testid("connection-form").await;
        window.fill("name", "Team Calendar").await;
        window.fill("authorize_url", "https://calendar.example.com/oauth/authorize").await;
        window.fill("token_url", "https://calendar.example.com/oauth/token").await;
        window.fill("client_id", "calendar-app").await;
        window.click_css("[data-testid='keep-in-team'][data-team='sales']").await;
        assert!(window.shown("[data-testid='keep-in']").await.contains("everyone in “sales” can use it"));
        window.screenshots("team-keep-in", Some("[data-testid='keep-in']"), "center").await;
        window.save_form().await;
        window.until("the new connection's detail", || async { window.text_of("[data-testid='detail-name']").await == "Team Calendar" }).await;
        assert!(window.shown("[data-testid='detail-team']").await.contains("Shared with team “sales”"));
        let id = latch.show("Team Calendar")["id"].as_str().unwrap().to_owned();
        let (status, listed) = bao.root("GET", "/v1/secret/metadata/teams/sales/connections?list=true", "");
        assert_eq!(status, 200, "{listed}");
        assert!(listed.to_string().contains(&id), "the team's store has the connection saved in the form: {listed}");
        let headings = window.client.find_all(fantoccini::Locator::Css("[data-testid='section-team']")).await.unwrap().len();
        assert_eq!(headings, 1, "the team's three connections are under one heading");
        window.click_css(row).await;
        window.testid("detail-status").await;
        window.screenshots("team-list", None, "start").await;

        // The team's store stops answering: Sync now says so, and the list says it calmly over the team's section.
        drop(bao);
        window.click("open-settings").await;
        window.click("team-sync").await;
        window
            .until("Sync now to find the store down", || async {
                window.text_of("[data-testid='team-note']").await == "Still unreachable. Latch tries again by itself."
            })
            .await;
        let banner = window.shown("[data-testid='team-banner']").await;
        assert!(banner.starts_with("Team store unreachable since "), "{banner}");
        assert!(banner.ends_with("Latch keeps using the tokens it has."), "{banner}");
        assert_eq!(window.shown("[data-testid='team-state']").await, "Unreachable");
        let settings_says = window.shown("[data-testid='team-unreachable']").await;
        assert!(settings_says.contains("Latch keeps using the tokens it has and tries again by itself."), "{settings_says}");
        window.screenshots("team-unreachable-settings", Some("[data-testid='team-joined']"), "start").await;
        window.click("settings-close").await;
        window.screenshots("team-unreachable-list", None, "start").await;

        // Leaving asks first, then takes the team's connections off this computer.
        window.click("open-settings").await;
        window.click("team-leave").await;
        window.testid("confirm-team-leave").await;
        window.screenshots("team-leave", None, "start").await;
        window.click("confirm-team-leave").await;
        assert_eq!(window.shown("[data-testid='team-left']").await, "Left “sales”. 3 connections were removed from this computer.");
        window.until("the team's connection to go", || async { !window.exists(row).await }).await;
        assert!(!window.exists("[data-testid='section-team']").await);
        assert!(!latch.ok(&["list"]).contains("Company CRM"));
        assert!(!window.exists("[data-testid='section-personal']").await, "no sections without a team");

        let page = window.client.source().await.unwrap();
        assert!(!page.contains(&token), "the OpenBao token is not in the page");
        window.close().await;
        latch.assert_no_secret_leaks(&[token.clone(), MAIL_SECRET.to_owned()]);
        other.assert_no_secret_leaks(&[token, MAIL_SECRET.to_owned()]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_joins_with_a_username_and_password_and_a_wrong_one_is_said_in_words() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        const PASSWORD: &str = "correct-horse-battery-7";
        const WRONG: &str = "wrong-horse-battery-8";
        let bao = Bao::start();
        writer_token(&bao);
        let (status, said) = bao.root("POST", "/v1/sys/auth/userpass", r#"{"type":"userpass"}"#);
        assert!(status == 200 || status == 204, "userpass: {status} {said}");
        let user = serde_json::json!({ "password": PASSWORD, "token_policies": ["latch-sales-writer"] }).to_string();
        let (status, said) = bao.root("POST", "/v1/auth/userpass/users/ana", &user);
        assert!(status == 200 || status == 204, "user: {status} {said}");
        let latch = Latch::new();
        let window = Window::open(&latch).await;

        window.click("open-settings").await;
        window.click("team-join-open").await;
        window.click("team-method-userpass").await;
        window.fill("team_name", "sales").await;
        window.fill("team_addr", &bao.addr).await;
        window.fill("team_path", "teams/sales").await;
        window.fill("team_username", "ana").await;
        window.fill("team_password", WRONG).await;
        window.click("team-join-submit").await;
        let said = window.shown("[data-testid='team-join-error']").await;
        assert!(said.starts_with("OpenBao did not accept"), "{said}");
        assert!(!window.exists("[data-testid='team-joined']").await, "nothing is joined with a wrong password");
        window.screenshots("team-join-userpass-refused", Some("[data-testid='team-join-form']"), "start").await;

        window.fill("team_password", PASSWORD).await;
        window.click("team-join-submit").await;
        assert_eq!(window.shown("[data-testid='team-state']").await, "Reachable");
        assert_eq!(window.shown("[data-testid='section-team']").await, "Team: sales");

        // Signing in again (as after the server stopped renewing this computer's sign-in) asks for the password only.
        window.click("team-sign-in-again").await;
        assert_eq!(window.shown("[data-testid='team-join-form'] h4").await, "Sign in to “sales” again");
        assert!(!window.exists("[name='team_name']").await, "the team's place is known");
        assert_eq!(window.wait_for("[name='team_username']").await.prop("value").await.unwrap().as_deref(), Some("ana"));
        window.fill("team_password", PASSWORD).await;
        window.screenshots("team-sign-in-again", Some("[data-testid='team-joined']"), "start").await;
        window.click("team-join-submit").await;
        window
            .until("the sign-in again to be done", || async { window.text_of("[data-testid='team-note']").await.starts_with("Signed in again.") })
            .await;

        let page = window.client.source().await.unwrap();
        for secret in [PASSWORD, WRONG] {
            assert!(!page.contains(secret), "a password is not in the page after joining");
        }
        window.close().await;
        latch.assert_no_secret_leaks(&[PASSWORD.to_owned(), WRONG.to_owned()]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_joined_with_the_cli_while_the_window_is_open_gets_its_tokens_from_a_sign_in_there() {
    let _turn = ONE_WINDOW_AT_A_TIME.lock().await;
    within(180, async {
        const CLIENT_SECRET: &str = "conf-basic-secret";
        let op = latch_e2e::Provider::oidc(&[]);
        let bao = Bao::start();
        let token = writer_token(&bao);
        let latch = Latch::new();
        let window = Window::open(&latch).await;
        window.testid("empty-state").await;

        // The command line joins and keeps a connection in the team while the app runs.
        latch.ok_with_stdin(&["team", "join", "sales", "--addr", &bao.addr, "--mount", "secret", "--path", "teams/sales"], &format!("{token}\n"));
        let out = latch.ok_with_stdin(
            &[
                "add", "--team", "sales", "--name", "CRM", "--flow", "authorization_code", "--client-id", "conf-basic",
                "--client-auth", "basic", "--client-secret-stdin", "--scope", "openid", "--scope", "offline_access",
                "--auth-param", "prompt=consent", "--authorize-url", &op.url("/auth"), "--token-url", &op.url("/token"),
            ],
            &format!("{CLIENT_SECRET}\n"),
        );
        assert!(out.contains("Kept 'CRM' in team 'sales'"), "{out}");
        let row = "[data-testid='connection-row'][data-name='CRM']";
        window.wait_for(row).await;
        assert_eq!(window.shown("[data-testid='section-team']").await, "Team: sales");

        // Signed in from the window: the client secret comes from the team's store, the tokens go there.
        window.click_css(row).await;
        window.click("connect").await;
        window
            .until("Connected", || async { window.text_of("[data-testid='detail-status']").await.contains("Connected") })
            .await;
        let id = latch.show("CRM")["id"].as_str().unwrap().to_owned();
        let (status, access) = bao.root("GET", &format!("/v1/secret/data/teams/sales/connections/{id}/access"), "");
        assert_eq!(status, 200, "the access document is in the team's store: {access}");
        let access_token = access["data"]["data"]["access_token"].as_str().unwrap().to_owned();
        assert!(latch.keyring_tokens("CRM").is_none(), "nothing of the team's in the personal keyring");
        let (_, refresh) = bao.root("GET", &format!("/v1/secret/data/teams/sales/connections/{id}/refresh"), "");
        let refresh_token = refresh["data"]["data"]["refresh_token"].as_str().unwrap().to_owned();

        let page = window.client.source().await.unwrap();
        for secret in [&token, &access_token, &refresh_token] {
            assert!(!page.contains(secret.as_str()), "no team secret in the page");
        }
        window.close().await;
        latch.assert_no_secret_leaks(&[token, access_token, refresh_token, CLIENT_SECRET.to_owned()]);
    })
    .await;
}
