//! `latch`: the command-line front end. Each subcommand reads its input,
//! calls one engine verb and prints the result; the engine does the rest.

mod args;
mod headless;
mod output;
mod team;

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use latch_core::model::Connection;
use latch_core::request::{self, ApiRequest};
use latch_core::secret::ClientSecret;
use latch_core::{presets, Engine, Error, ErrorKind, SecretChange, SignInEvent, SignInOptions, SpecConnection, SpecEdit};
use zeroize::Zeroizing;

use args::{AddArgs, Cli, Command, SpecCommand, SpecValues};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    // The long-running servers use every core; a one-shot command needs one thread.
    let runtime = match cli.command {
        Command::Proxy(_) | Command::Agent(_) | Command::Exec(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    }
    .enable_all()
    .build()
    .expect("a tokio runtime starts");
    let outcome = runtime.block_on(async {
        let headless = matches!(&cli.command, Command::Agent(args) if args.headless);
        let engine = Arc::new(if headless { headless::open_engine()? } else { Engine::open_default()? });
        if !headless && !matches!(cli.command, Command::Team(_) | Command::List(_)) {
            // A team's connections are mirrored here at most a minute late.
            engine.team_sync_if_stale(Duration::from_secs(60)).await;
        }
        if matches!(cli.command, Command::Connect(_) | Command::Exec(_)) {
            // Ctrl-C cancels a sign-in (see `sign_in`); `exec` passes signals to its command.
            return run(&engine, cli.command).await;
        }
        finish_before_exiting(&engine, run(&engine, cli.command)).await
    });
    match outcome {
        Ok(code) => code,
        Err(err) => {
            output::print_error(&err);
            ExitCode::from(exit_code(err.kind))
        }
    }
}

/// Runs `command`; Ctrl-C or SIGTERM ends it at once unless tokens are being
/// written (a refresh holds the connection's lease): then the write finishes
/// first, so a rotated refresh token the provider already handed out is
/// never lost.
async fn finish_before_exiting(
    engine: &Engine,
    command: impl std::future::Future<Output = Result<ExitCode, Error>>,
) -> Result<ExitCode, Error> {
    tokio::pin!(command);
    let signalled = async {
        #[cfg(unix)]
        {
            let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM can be watched");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => 130,
                _ = terminate.recv() => 143,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            130
        }
    };
    tokio::select! {
        outcome = &mut command => outcome,
        code = signalled => {
            if engine.is_busy() {
                eprintln!("latch: finishing the refresh under way, so its new sign-in is saved…");
                // The command's end, or — for one that serves until stopped
                // (agent, proxy) — the end of the work holding a lease.
                tokio::select! {
                    outcome = &mut command => {
                        if let Err(err) = outcome {
                            output::print_error(&err);
                        }
                    }
                    _ = engine.wait_idle(Duration::from_secs(75)) => {}
                }
            }
            Ok(ExitCode::from(code))
        }
    }
}

/// The exit codes documented in the README.
fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Validation | ErrorKind::NotFound => 2,
        ErrorKind::NeedsAuthorization => 3,
        ErrorKind::Provider | ErrorKind::Network => 4,
        ErrorKind::KeyringUnavailable => 5,
        ErrorKind::Storage | ErrorKind::Cancelled => 1,
    }
}

/// Logs go to stderr, quiet unless `LATCH_LOG` asks (e.g. `LATCH_LOG=debug`).
/// Only Latch's own crates log below `warn`; the engine never logs secrets.
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let level = std::env::var("LATCH_LOG").unwrap_or_default();
    let filter = log_filter(&level).unwrap_or_else(|problem| {
        eprintln!("latch: {problem}");
        log_filter("").expect("no level is warnings only")
    });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_target(false),
        )
        .with(filter)
        .init();
}

/// What `LATCH_LOG` lets through: a plain list of targets, not an
/// `EnvFilter`, which compiles regular expressions at every start of every
/// command.
fn log_filter(level: &str) -> Result<tracing_subscriber::filter::Targets, String> {
    let warn_only = tracing_subscriber::filter::Targets::new().with_default(tracing_subscriber::filter::LevelFilter::WARN);
    match level.trim() {
        "" => Ok(warn_only),
        level => format!("warn,latch_core={level},latch={level}").parse().map_err(|_| {
            format!("LATCH_LOG={level:?} is not a log level (error, warn, info, debug, trace); logging warnings only")
        }),
    }
}

async fn run(engine: &Arc<Engine>, command: Command) -> Result<ExitCode, Error> {
    match command {
        Command::Add(mut args) if args.team.is_some() => {
            let team = args.team.take().unwrap_or_default();
            if !engine.teams()?.iter().any(|t| t.name.eq_ignore_ascii_case(&team)) {
                return Err(Error::new(ErrorKind::NotFound, format!("This Latch has not joined a team named '{team}'. Join it first with 'latch team join'.")));
            }
            let name = args.name.clone();
            let code = Box::pin(run(engine, Command::Add(args))).await?;
            let connection = engine.team_adopt(&name, &team).await?;
            println!("Kept '{}' in team '{}': its secrets are in the team's OpenBao store.", output::clean(&connection.name), output::clean(&team));
            return Ok(code);
        }
        Command::Team(command) => team::run(engine, command).await?,
        Command::Add(args) if args.kind.as_deref() == Some("oauth1") => {
            let connection = add_oauth1(engine, args).await?;
            if connection.settings.oauth1().is_some_and(|s| s.signature_method == latch_core::model::SignatureMethod::Plaintext) {
                eprintln!(
                    "latch: warning: PLAINTEXT sends the consumer secret and token secret with every request; only https \
                     protects them."
                );
            }
            output::print_added(&connection, None);
        }
        Command::Add(args) if args.spec.is_some() => {
            let connection = engine.create_spec(spec_connection(args)?).await?;
            output::print_added(&connection, None);
        }
        Command::Spec(SpecCommand::Check { path }) => {
            let document = latch_core::spec::document::load(&path)?;
            let problems = Engine::spec_problems(&document);
            if !problems.is_empty() {
                for problem in &problems {
                    eprintln!("latch: {}", output::clean(problem));
                }
                eprintln!("latch: {} problem(s) in {}.", problems.len(), path.display());
                return Ok(ExitCode::from(2));
            }
            let elsewhere = latch_core::spec::runner::secret_destinations(&document);
            let steps: Vec<&str> = document.communication.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
            println!(
                "{} is a valid spec{}: steps {}; {} parameter(s); {} scope(s).",
                path.display(),
                document.name.as_deref().map(|n| format!(" ('{}')", output::clean(n))).unwrap_or_default(),
                steps.join(", "),
                document.parameters.len(),
                document.scope_list.len()
            );
            for host in elsewhere {
                println!("Warning: it sends your secret to {} — opening it needs --accept-secret-hosts.", output::clean(&host));
            }
        }
        Command::Spec(SpecCommand::Show { name }) => {
            let connection = engine.get(&name)?;
            let Some(settings) = connection.settings.spec() else {
                return Err(Error::validation("name", format!("'{}' is not made from a spec.", connection.name)));
            };
            let text = serde_json::to_string_pretty(&settings.spec).unwrap_or_default();
            println!("{}", output::clean_block(&text));
        }
        Command::Spec(SpecCommand::Edit(args)) => {
            let current = engine.get(&args.name)?;
            let document = match &args.spec {
                Some(path) => Some(latch_core::spec::document::load(path)?),
                None => None,
            };
            let reference = document.clone().or_else(|| current.settings.spec().map(|s| s.spec.clone())).unwrap_or_default();
            let accept_secret_hosts = args.values.accept_secret_hosts;
            let (common, parameters) = spec_values(&reference, args.values)?;
            let edit = SpecEdit {
                document,
                parameters,
                common,
                scopes: (!args.scopes.is_empty()).then_some(args.scopes),
                accept_secret_hosts,
                api: None,
            };
            let connection = engine.edit_spec(&args.name, edit).await?;
            println!("Saved '{}'.", output::clean(&connection.name));
        }
        Command::Spec(SpecCommand::Run { name, step }) => {
            let report = engine.run_spec_step(&name, &step).await?;
            for request in &report.requests {
                println!("{} {}", request.method, output::clean(&request.url));
                for (key, value) in &request.request_headers {
                    println!("  {}: {}", output::clean(key), output::clean(value));
                }
                if let Some(body) = &request.request_body {
                    println!("  {}", output::clean(body));
                }
                if let Some(status) = request.status {
                    println!("-> HTTP {status}");
                }
                if let Some(body) = &request.response_body {
                    println!("  {}", output::clean(body));
                }
            }
            if let Some(account) = &report.account {
                println!("Account: {}", output::clean(account));
            }
            if !report.data_keys.is_empty() {
                println!("Data: {}", report.data_keys.join(", "));
            }
        }
        Command::Add(args) if args.from.is_some() => {
            let secret = read_credential(&args.fields)?;
            let identity = read_client_identity(&args.fields, &args.name)?;
            let from = args.from.clone().unwrap_or_default();
            let overrides = args.fields.into_patch().set_some("client_id", args.client_id);
            let overrides = overrides.set_some("client_certificate", identity.as_ref().map(|(_, summary)| summary));
            let (connection, found) = engine.create_from_api(&from, args.name, overrides, secret).await?;
            let connection = save_client_identity(engine, connection, identity).await?;
            output::print_added_from_api(&connection, &found);
        }
        Command::Add(args) => {
            let values = &args.spec_values;
            if !(values.common.is_empty() && values.common_stdin.is_empty() && values.params.is_empty() && values.param_stdin.is_empty())
            {
                return Err(Error::validation("spec", "--common and --param give a spec's values: use them with --spec PATH."));
            }
            let secret = read_credential(&args.fields)?;
            let identity = read_client_identity(&args.fields, &args.name)?;
            let overrides = args.fields.into_patch().set_some("flow", args.flow).set_some("client_id", args.client_id);
            let overrides = overrides.set_some("client_certificate", identity.as_ref().map(|(_, summary)| summary));
            let issuer = overrides.get("issuer").and_then(|v| v.as_str()).map(str::to_owned);
            let (connection, preset) = match (&args.preset, issuer) {
                (Some(id), _) => {
                    (engine.create_from_preset(id, args.name, overrides, secret).await?, Some(presets::find(id)?))
                }
                (None, Some(issuer)) if !args.no_discover => {
                    (engine.create_discovered(&issuer, args.name, overrides, secret).await?, None)
                }
                (None, _) => (engine.create_from_patch(args.name, "oauth2", overrides, secret).await?, None),
            };
            let connection = save_client_identity(engine, connection, identity).await?;
            output::print_added(&connection, preset.as_ref());
        }
        Command::Edit(args) => {
            let secret = match (read_credential(&args.fields)?, args.remove_client_secret) {
                (Some(secret), _) => SecretChange::Set(secret),
                (None, true) => SecretChange::Remove,
                (None, false) => SecretChange::Keep,
            };
            // A new certificate is saved first: the edit may choose the method that needs it.
            if let Some((identity, summary)) = read_client_identity(&args.fields, &args.name)? {
                engine.set_client_identity(&args.name, &identity, summary).await?;
            }
            let cleared_hosts = args.clear.contains(&"allowed_hosts");
            let mut fields = args.fields;
            if !fields.allow_hosts.is_empty() && !cleared_hosts {
                // --allow-host adds a host; the others stay allowed.
                let mut hosts = engine.get(&args.name)?.settings.api().allowed_hosts.clone();
                hosts.append(&mut fields.allow_hosts);
                fields.allow_hosts = hosts;
            }
            let mut patch = fields.into_patch().set_some("flow", args.flow).set_some("client_id", args.client_id);
            for field in args.clear {
                if !(field == "allowed_hosts" && patch.sets(field)) {
                    patch = patch.set(field, Vec::<()>::new());
                }
            }
            let connection = engine.edit(&args.name, args.new_name, patch, secret).await?;
            output::warn_if_implicit(&connection);
            println!("Saved '{}'.", output::clean(&connection.name));
        }
        Command::List(args) => {
            engine.team_sync_if_stale(Duration::ZERO).await;
            output::print_list(&engine.list()?, &engine.team_names()?, args.json)
        }
        Command::Show(args) if args.client_cert => print!("{}", engine.client_certificate_pem(&args.name).await?),
        Command::Show(args) if args.client_cert_jwk => {
            println!("{}", serde_json::to_string_pretty(&engine.client_certificate_jwk(&args.name).await?).expect("JSON serialises"))
        }
        Command::Show(args) => output::print_show(&engine.get(&args.name)?, args.json),
        Command::Status(args) => return Ok(output::print_status(&engine.list()?, args.json)),
        Command::Connect(args) => {
            output::warn_if_implicit(&engine.get(&args.name)?);
            let options = SignInOptions { timeout: Duration::from_secs(args.timeout.max(1)), paste: args.paste };
            let connection = sign_in(engine, &args.name, options).await?;
            output::print_connected(&connection);
        }
        Command::Token(args) if engine.get(&args.name)?.settings.oauth1().is_some() => {
            // OAuth 1.0a has no bearer token: the token and its secret, as JSON.
            let (connection, pair) = engine.oauth1_token(&args.name).await?;
            engine.record_use(&connection, "cli", "token", &requester(), None);
            let line = Zeroizing::new(format!(
                "{}\n",
                serde_json::json!({ "oauth_token": pair.token.secret(), "oauth_token_secret": pair.token_secret.secret() })
            ));
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
        Command::GitCredential(args) => {
            // git writes the request (protocol, host, path…) on standard input.
            let request = read_stdin()?;
            if args.operation != "get" {
                // 'store' and 'erase': Latch keeps its tokens itself.
                return Ok(ExitCode::SUCCESS);
            }
            let _ = request;
            let (connection, token) = engine.access_token(&args.name).await?;
            engine.record_use(&connection, "helper", "git-credential", &requester(), None);
            output::warn_if_bound(&connection);
            let mut answer = Zeroizing::new(format!("username={}\npassword={}\n", args.username, token.secret()));
            if let Some(expires) = connection.access_expires_at {
                answer.push_str(&format!("password_expiry_utc={}\n", expires.timestamp()));
            }
            let _ = std::io::stdout().lock().write_all(answer.as_bytes());
        }
        Command::Agent(args) if args.headless => headless::run(engine, args).await?,
        Command::Agent(_) => {
            let path = latch_core::agent::socket_path().ok_or_else(|| {
                Error::validation("agent", "This session has no XDG_RUNTIME_DIR, so there is no place for the agent's socket.")
            })?;
            let _refresher = latch_core::refresher::Refresher::spawn(engine.clone());
            let _agent = latch_core::agent::Agent::start(engine.clone(), &path).await?;
            eprintln!("Latch agent: answering at {} and keeping connections fresh. Ctrl-C stops it.", path.display());
            // Until Ctrl-C or SIGTERM (finish_before_exiting lets a refresh under way finish).
            std::future::pending::<()>().await;
        }
        Command::Proxy(args) if args.print_env => {
            let info = running_proxy(engine).await.ok_or_else(|| {
                Error::new(ErrorKind::NotFound, 
                    "No Latch proxy is running for this data directory: start one with 'latch proxy', or switch it on in \
                     the app's Settings.",
                )
            })?;
            println!("export LATCH_PROXY_URL={}", request::shell_quote(&info.url));
            let line = Zeroizing::new(format!("export LATCH_PROXY_KEY={}\n", request::shell_quote(&info.key)));
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
        Command::Proxy(args) => {
            let _refresher = latch_core::refresher::Refresher::spawn(engine.clone());
            let proxy = latch_core::proxy::Proxy::start(engine.clone(), args.port.unwrap_or(0)).await?;
            let _notices = desktop_notices(engine);
            // The agent tells `latch exec` and `--print-env` where the proxy is.
            let agent = match latch_core::agent::socket_path() {
                Some(path) => match latch_core::agent::Agent::start(engine.clone(), &path).await {
                    Ok(agent) => Some(agent),
                    Err(_) => {
                        eprintln!(
                            "latch: another Latch agent (the app?) answers at {}; 'latch exec' and 'latch proxy --print-env' \
                             will not find this proxy.",
                            path.display()
                        );
                        None
                    }
                },
                None => None,
            };
            if let Some(agent) = &agent {
                agent.set_proxy(Some(proxy.info().clone()));
            }
            eprintln!(
                "Latch proxy on {}/<connection>/<path>. 'latch proxy --print-env' prints its key; 'latch exec NAME -- \
                 COMMAND' passes it on. Ctrl-C stops it.",
                proxy.info().url
            );
            std::future::pending::<()>().await;
        }
        Command::Exec(args) => return exec(engine, args).await,
        Command::Log(args) => output::print_usage(engine, &engine.usage(args.name.as_deref(), args.limit)?, args.json),
        Command::KubeCredential(args) => {
            // kubectl says which apiVersion it speaks in KUBERNETES_EXEC_INFO.
            let asked = std::env::var("KUBERNETES_EXEC_INFO")
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .and_then(|info| info.get("apiVersion").and_then(|v| v.as_str()).map(str::to_owned))
                .unwrap_or_else(|| "client.authentication.k8s.io/v1beta1".to_owned());
            if !matches!(asked.as_str(), "client.authentication.k8s.io/v1" | "client.authentication.k8s.io/v1beta1") {
                return Err(Error::validation(
                    "apiVersion",
                    format!(
                        "kubectl asked for '{}'; Latch speaks client.authentication.k8s.io/v1 and v1beta1.",
                        output::clean(&asked)
                    ),
                ));
            }
            let (connection, token) = engine.access_token(&args.name).await?;
            engine.record_use(&connection, "helper", "kube-credential", &requester(), None);
            output::warn_if_bound(&connection);
            let mut status = serde_json::json!({ "token": token.secret() });
            if let Some(expires) = connection.access_expires_at {
                status["expirationTimestamp"] = expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into();
            }
            let credential = serde_json::json!({ "apiVersion": asked, "kind": "ExecCredential", "status": status });
            let line = Zeroizing::new(format!("{credential}\n"));
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
        Command::Token(args) if args.format != "raw" => {
            let (connection, token) = engine.access_token(&args.name).await?;
            engine.record_use(&connection, "cli", "token", &requester(), None);
            output::warn_if_bound(&connection);
            let variable: String = connection
                .name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
                .collect();
            let token_name = match connection.settings.oauth2() {
                Some(s) if s.dpop => latch_core::flows::dpop::TOKEN_TYPE.to_owned(),
                Some(s) => s.token_name.clone(),
                None => "Bearer".into(),
            };
            let line = Zeroizing::new(match args.format.as_str() {
                "json" => format!(
                    "{}\n",
                    serde_json::json!({
                        "access_token": token.secret(),
                        "token_type": token_name,
                        "expires_at": connection.access_expires_at,
                        "scope": connection.granted_scopes.clone().unwrap_or_else(|| connection.settings.scopes().to_vec()),
                    })
                ),
                "header" => format!("Authorization: {token_name} {}\n", token.secret()),
                _ => format!("{variable}_ACCESS_TOKEN={}\n", request::shell_quote(token.secret())),
            });
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
        Command::Token(args) => {
            if let Ok(connection) = engine.get(&args.name) {
                output::warn_if_bound(&connection);
            }
            // The agent holds fresh tokens in memory: no keyring look-up. It
            // leaves anything but a plainly connected connection to us.
            if let Some(path) = agent_path() {
                if let Some(answer) = latch_core::agent::ask_token(&path, engine.data_dir(), &args.name).await {
                    let line = Zeroizing::new(format!("{}\n", answer?.token));
                    let _ = std::io::stdout().lock().write_all(line.as_bytes());
                    return Ok(ExitCode::SUCCESS);
                }
            }
            let (connection, token) = engine.access_token(&args.name).await?;
            engine.record_use(&connection, "cli", "token", &requester(), None);
            if connection.status == latch_core::model::Status::NeedsReauth {
                // The provider refused to renew it; this token still works until it expires.
                let until = connection.access_expires_at.map(|at| format!(" until {}", at.format("%Y-%m-%d %H:%M UTC")));
                eprintln!(
                    "latch: '{}' needs you to sign in again; this access token still works{}.",
                    connection.name,
                    until.unwrap_or_default()
                );
                if let Some(next) = output::action_as_command(&connection.sign_in_again()) {
                    eprintln!("latch: {next}");
                }
            }
            let mut stdout = std::io::stdout().lock();
            let line = Zeroizing::new(format!("{}\n", token.secret()));
            let _ = stdout.write_all(line.as_bytes());
        }
        Command::Refresh(args) => {
            let connection = engine.refresh(&args.name).await?;
            println!("Refreshed '{}'. {}", output::clean(&connection.name), output::expiry_sentence(&connection));
        }
        Command::Request(args) => {
            let body = match args.data.as_deref() {
                None => None,
                Some("@-") => Some(read_stdin()?.to_vec()),
                Some(path) if path.starts_with('@') => Some(std::fs::read(&path[1..]).map_err(|err| {
                    Error::validation("data", format!("Could not read the body file '{}': {err}.", &path[1..]))
                })?),
                Some(text) => Some(text.as_bytes().to_vec()),
            };
            let request = ApiRequest {
                method: args.method,
                url: args.url,
                headers: args.headers.into_iter().map(|kv| (kv.key, kv.value)).collect(),
                body,
            };
            let host = url_host(&request.url);
            let response = engine.request(&args.name, request).await?;
            if let Ok(connection) = engine.get(&args.name) {
                engine.record_use(&connection, "cli", "request", &requester(), host.as_deref());
            }
            eprintln!("HTTP {} {}", response.status, output::clean(&response.reason));
            let _ = std::io::stdout().lock().write_all(&response.body);
            if response.status >= 400 {
                return Ok(ExitCode::from(4));
            }
        }
        Command::Disconnect(args) => {
            let outcome = engine.disconnect(&args.name).await?;
            return Ok(output::print_disconnected(&args.name, &outcome, false));
        }
        Command::Remove(args) => {
            let outcome = engine.remove(&args.name).await?;
            return Ok(output::print_disconnected(&args.name, &outcome, true));
        }
        Command::Presets(args) => output::print_presets(&presets::all(), args.json),
        Command::Export(args) => {
            let file = engine.export(&args.names)?;
            let text = format!("{}\n", serde_json::to_string_pretty(&file).expect("an export serialises"));
            match &args.output {
                None => print!("{text}"),
                Some(path) => {
                    std::fs::write(path, text).map_err(|err| {
                        Error::validation("output", format!("Could not write '{}': {err}.", path.display()))
                    })?;
                    eprintln!("Exported {} connection(s) to {}.", file.connections.len(), path.display());
                }
            }
        }
        Command::Import(args) => {
            use latch_core::transfer::{self, Accepted, ImportAnswers, NameConflict};
            // Never more than the size cap is read; a file that says it is larger is not read at all.
            let bytes = match args.file.as_str() {
                "-" => transfer::read_limited(std::io::stdin().lock(), "standard input")?,
                path => {
                    let file = std::fs::File::open(path).map_err(|err| {
                        Error::validation("import", format!("Could not read '{path}': {err}. Nothing was imported."))
                    })?;
                    if let Some(metadata) = file.metadata().ok().filter(|m| m.is_file()) {
                        transfer::check_size(metadata.len())?;
                    }
                    transfer::read_limited(file, &format!("'{path}'"))?
                }
            };
            let answers = ImportAnswers {
                otherwise: args.replace.then_some(NameConflict::Replace),
                accepted: if args.accept_hosts { Accepted::All } else { Accepted::None },
                ..ImportAnswers::default()
            };
            match engine.import_resolving(&bytes, answers).await {
                Ok(imported) => output::print_imported(&imported),
                // Some connection needs the user's trust: show every host and warning, and how to give it.
                Err(err) if err.fields.iter().any(|f| f.field == "hosts") => {
                    output::print_import_preview(&engine.import_preview(&bytes)?);
                    output::print_error(&err);
                    eprintln!(
                        "latch: If you trust these hosts with the sign-in and tokens of the connections marked above, \
                         run 'latch import {} --accept-hosts'.",
                        output::shell_name(&args.file)
                    );
                    return Ok(ExitCode::from(exit_code(err.kind)));
                }
                Err(err) => return Err(err),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs a sign-in session, printing its events. Ctrl-C cancels it: the
/// loopback listener closes and the connection is left as it was.
async fn sign_in(engine: &Arc<Engine>, name: &str, options: SignInOptions) -> Result<Connection, Error> {
    let mut handle = engine.sign_in(name, options)?;
    let control = handle.control();
    loop {
        tokio::select! {
            event = handle.next() => match event {
                Some(SignInEvent::Started { authorize_url, redirect_uri, deadline, browser_error, paste }) => {
                    output::print_sign_in_started(&authorize_url, &redirect_uri, deadline, browser_error.as_deref(), paste);
                    if paste {
                        let control = control.clone();
                        // Standard input blocks: read it on its own thread.
                        tokio::task::spawn_blocking(move || match read_pasted_address() {
                            Some(address) => {
                                let _ = control.submit_address(&address);
                            }
                            None => {
                                eprintln!("Nothing was pasted, so Latch stopped. Connect again when you have the address.");
                                control.cancel();
                            }
                        });
                    }
                }
                Some(SignInEvent::DeviceCode { user_code, verification_uri, deadline, browser_error, .. }) => {
                    output::print_device_code(&user_code, &verification_uri, deadline, browser_error.as_deref());
                }
                Some(SignInEvent::Finished { .. }) | None => break,
                Some(SignInEvent::AddressReceived | SignInEvent::Requesting) => {}
            },
            _ = tokio::signal::ctrl_c() => {
                eprintln!("Stopping the sign-in…");
                control.cancel();
            }
        }
    }
    handle.outcome().await
}

/// `latch add --kind oauth1`: the settings from the flags, the consumer
/// secret from standard input, the private key from its file into the
/// keyring. Nothing is kept when the key does not read.
async fn add_oauth1(engine: &Arc<Engine>, args: AddArgs) -> Result<Connection, Error> {
    use latch_core::model::{Draft, KindSettings, OAuth1Settings};
    let flags = args.oauth1;
    let url = |flag: &Option<args::UrlFlag>| flag.as_ref().and_then(|u| u.as_deref().map(str::to_owned));
    let mut settings = OAuth1Settings {
        request_token_url: flags.request_token_url,
        authorize_url: url(&args.fields.authorize_url),
        access_token_url: flags.access_token_url,
        consumer_key: flags.consumer_key.unwrap_or_default(),
        info_url: url(&args.fields.info_url),
        revoke_url: url(&args.fields.revoke_url),
        redirect_port: args.fields.redirect_port.unwrap_or(0),
        body_hash: flags.body_hash,
        api: latch_core::model::ApiAccess {
            api_base_url: url(&args.fields.api_base_url),
            allowed_hosts: args.fields.allow_hosts.clone(),
            forward_caller_auth: args.fields.forward_caller_auth.unwrap_or(false),
        },
        ..OAuth1Settings::default()
    };
    if let Some(method) = flags.signature_method {
        settings.signature_method = method;
    }
    if let Some(transport) = flags.transport {
        settings.transport = transport;
    }
    if let Some(callback) = flags.callback {
        settings.callback = callback;
    }
    let pem = match &flags.private_key_file {
        Some(path) => {
            let meta = std::fs::metadata(path)
                .map_err(|err| Error::validation("private_key", format!("Could not read the key file '{}': {err}.", path.display())))?;
            if meta.len() > 64 * 1024 {
                return Err(Error::validation("private_key", "The key file is larger than 64 KiB; a PEM private key is a few kilobytes."));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|_| Error::validation("private_key", format!("The key file '{}' is not text (PEM).", path.display())))?;
            let pem = Zeroizing::new(text);
            latch_core::flows::oauth1::private_key_from_pem(&pem)?;
            Some(pem)
        }
        None => None,
    };
    if settings.signature_method.uses_private_key() && pem.is_none() {
        return Err(Error::validation("private_key", "RSA signature methods need --private-key-file PEM."));
    }
    let secret = match flags.consumer_secret_stdin {
        true => read_secret(true)?,
        false => None,
    };
    let connection = engine.create(Draft { name: args.name, settings: KindSettings::OAuth1(settings) }, secret).await?;
    if let Some(pem) = pem {
        if let Err(err) = engine.set_oauth1_private_key(connection.id.as_str(), &pem).await {
            let _ = engine.remove(connection.id.as_str()).await;
            return Err(err);
        }
    }
    Ok(connection)
}

/// `latch add --spec`'s flags as what the engine takes.
fn spec_connection(args: AddArgs) -> Result<SpecConnection, Error> {
    let path = args.spec.unwrap_or_default();
    let document = latch_core::spec::document::load(&path)?;
    let accept_secret_hosts = args.spec_values.accept_secret_hosts;
    let (common, parameters) = spec_values(&document, args.spec_values)?;
    Ok(SpecConnection {
        name: args.name,
        document,
        parameters,
        common,
        scopes: args.fields.scopes.clone(),
        redirect_port: args.fields.redirect_port.unwrap_or(0),
        redirect_uri_override: args.fields.redirect_uri.as_ref().and_then(|u| u.as_deref().map(str::to_owned)),
        accept_secret_hosts,
        api: latch_core::model::ApiAccess {
            api_base_url: args.fields.api_base_url.as_ref().and_then(|u| u.as_deref().map(str::to_owned)),
            allowed_hosts: args.fields.allow_hosts.clone(),
            forward_caller_auth: args.fields.forward_caller_auth.unwrap_or(false),
        },
    })
}

type JsonMap = serde_json::Map<String, serde_json::Value>;

/// The common data and parameter values the flags give: values typed per
/// the spec's parameter definitions, secrets from standard input (one line
/// each, the --common-stdin ones first).
fn spec_values(document: &latch_core::model::SpecDocument, flags: SpecValues) -> Result<(JsonMap, JsonMap), Error> {
    let wanted = flags.common_stdin.len() + flags.param_stdin.len();
    let mut lines: Vec<Zeroizing<String>> = Vec::new();
    if wanted > 0 {
        let bytes = read_stdin()?;
        let text = std::str::from_utf8(&bytes).map_err(|_| Error::validation("stdin", "Standard input is not valid text."))?;
        lines = text.lines().map(|l| Zeroizing::new(l.trim_end_matches('\r').to_owned())).collect();
        if lines.len() < wanted {
            return Err(Error::validation(
                "stdin",
                format!("{wanted} value(s) were to come on standard input, one per line, but {} arrived.", lines.len()),
            ));
        }
    }
    let mut from_stdin = lines.into_iter();
    let mut common = JsonMap::new();
    for kv in flags.common {
        common.insert(kv.key, serde_json::Value::String(kv.value));
    }
    for key in flags.common_stdin {
        let value = from_stdin.next().unwrap_or_default();
        common.insert(key, serde_json::Value::String(value.to_string()));
    }
    let mut parameters = JsonMap::new();
    for kv in flags.params {
        let definition = document.parameters.iter().find(|p| p.get("name").and_then(|n| n.as_str()) == Some(kv.key.as_str()));
        let kind = definition.and_then(|d| d.get("type")).and_then(|t| t.as_str()).unwrap_or("text");
        let value = match kind {
            "number" | "integer" | "uinteger" | "boolean" | "collection" => {
                serde_json::from_str(&kv.value).unwrap_or(serde_json::Value::String(kv.value))
            }
            "array" => serde_json::from_str::<serde_json::Value>(&kv.value).ok().filter(|v| v.is_array()).unwrap_or_else(|| {
                kv.value.split(',').map(|item| serde_json::Value::String(item.trim().to_owned())).collect()
            }),
            _ => serde_json::Value::String(kv.value),
        };
        parameters.insert(kv.key, value);
    }
    for key in flags.param_stdin {
        let value = from_stdin.next().unwrap_or_default();
        parameters.insert(key, serde_json::Value::String(value.to_string()));
    }
    Ok((common, parameters))
}

/// The agent's socket, unless LATCH_NO_AGENT says to read the store.
fn agent_path() -> Option<std::path::PathBuf> {
    if std::env::var_os("LATCH_NO_AGENT").is_some_and(|v| !v.is_empty()) {
        return None;
    }
    latch_core::agent::socket_path().filter(|p| p.exists())
}

/// The proxy the agent's process runs, when there is one for this store.
async fn running_proxy(engine: &Engine) -> Option<latch_core::proxy::ProxyInfo> {
    latch_core::agent::ask_proxy(&agent_path()?, engine.data_dir()).await
}

/// Notices the engine raises (a connection needs a sign-in) as desktop
/// notifications, while `latch proxy` runs without the app.
fn desktop_notices(engine: &Engine) -> tokio::task::JoinHandle<()> {
    let mut events = engine.subscribe();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(latch_core::EngineEvent::Notice(latch_core::Notice::NeedsReauth { name, .. })) => {
                    let body = format!(
                        "The service no longer accepts the saved sign-in. Open Latch to sign in again, or run: latch connect {}",
                        output::shell_name(&name)
                    );
                    let shown = notify_rust::Notification::new()
                        .appname("Latch")
                        .summary(&format!("{name} needs you to sign in again"))
                        .body(&body)
                        .show_async()
                        .await;
                    if let Err(err) = shown {
                        eprintln!("latch: '{name}' needs you to sign in again (no desktop notification: {err}).");
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    })
}

/// `latch exec NAME… -- COMMAND`: the command runs with each connection's
/// base on the proxy (the running one, else one started for it), and with
/// `--token-env` a fresh token per connection. Signals go to the command;
/// its exit code comes back.
async fn exec(engine: &Arc<Engine>, args: args::ExecArgs) -> Result<ExitCode, Error> {
    let connections = args.names.iter().map(|name| engine.get(name)).collect::<Result<Vec<_>, Error>>()?;
    let mut own_proxy = None;
    let info = match running_proxy(engine).await {
        Some(info) => info,
        None => {
            let _refresher = latch_core::refresher::Refresher::spawn(engine.clone());
            let proxy = latch_core::proxy::Proxy::start(engine.clone(), 0).await?;
            let info = proxy.info().clone();
            own_proxy = Some((proxy, _refresher));
            info
        }
    };
    let mut env: Vec<(String, Zeroizing<String>)> = vec![
        ("LATCH_PROXY_URL".into(), Zeroizing::new(info.url.clone())),
        ("LATCH_PROXY_KEY".into(), info.key.clone()),
    ];
    let mut tokens = Vec::new();
    for connection in &connections {
        // (A spec's own base may be computed: the proxy joins paths to it.)
        let spec = matches!(connection.settings, latch_core::model::KindSettings::Spec(_));
        if connection.settings.api_base_url().is_none() && !spec && !args.token_env {
            eprintln!(
                "latch: '{}' has no API base URL, so the proxy cannot forward its requests yet; set one with {}.",
                output::clean(&connection.name),
                format_args!("'latch edit {} --api-base-url URL'", output::shell_name(&connection.name))
            );
        }
        let variable = env_name(&connection.name);
        env.push((format!("LATCH_{variable}_URL"), Zeroizing::new(info.connection_url(&connection.name))));
        if args.token_env {
            output::warn_if_bound(connection);
            let (connection, token) = engine.access_token(connection.id.as_str()).await?;
            env.push((format!("{variable}_ACCESS_TOKEN"), Zeroizing::new(token.secret().to_owned())));
            tokens.push(connection);
        }
    }
    let (program, rest) = args.command.split_first().expect("clap requires a command");
    let mut command = tokio::process::Command::new(program);
    command.args(rest).envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut child = command.spawn().map_err(|err| {
        Error::validation("command", format!("Could not run '{}': {err}.", output::clean(program)))
    })?;
    drop(env);
    let child_requester = child.id().map(latch_core::Requester::process).unwrap_or_default();
    for connection in &connections {
        engine.record_use(connection, "exec", "proxy-url", &child_requester, None);
    }
    for connection in &tokens {
        engine.record_use(connection, "exec", "token", &child_requester, None);
    }
    let status = wait_forwarding_signals(&mut child).await?;
    drop(own_proxy);
    use std::os::unix::process::ExitStatusExt;
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    };
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// Waits for `child`, passing SIGINT, SIGTERM, SIGHUP and SIGQUIT on to it.
async fn wait_forwarding_signals(child: &mut tokio::process::Child) -> Result<std::process::ExitStatus, Error> {
    use tokio::signal::unix::{signal, SignalKind};
    let watch = |kind: SignalKind| signal(kind).map_err(|err| Error::storage(format!("Signals cannot be watched: {err}.")));
    let (mut int, mut term, mut hup, mut quit) =
        (watch(SignalKind::interrupt())?, watch(SignalKind::terminate())?, watch(SignalKind::hangup())?, watch(SignalKind::quit())?);
    loop {
        let signal = tokio::select! {
            status = child.wait() => {
                return status.map_err(|err| Error::storage(format!("The command could not be waited for: {err}.")));
            }
            _ = int.recv() => libc::SIGINT,
            _ = term.recv() => libc::SIGTERM,
            _ = hup.recv() => libc::SIGHUP,
            _ = quit.recv() => libc::SIGQUIT,
        };
        if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
            // SAFETY: kill(2) on our own child's pid; it has no other effect.
            unsafe { libc::kill(pid, signal) };
        }
    }
}

/// A connection's name as an environment variable's part: letters and
/// digits in upper case, anything else '_' ("Team Drive" → TEAM_DRIVE).
fn env_name(name: &str) -> String {
    let mut out: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The program that ran `latch`: the one a credential is handed to.
fn requester() -> latch_core::Requester {
    latch_core::Requester::process(std::os::unix::process::parent_id())
}

/// The host of a request's address, for the usage log (a relative path has
/// none here; the engine joins it to the base).
fn url_host(address: &str) -> Option<String> {
    address.trim().parse::<url::Url>().ok().and_then(|u| u.host_str().map(str::to_owned))
}

fn read_stdin() -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut buffer = Zeroizing::new(Vec::new());
    std::io::stdin()
        .read_to_end(&mut buffer)
        .map_err(|err| Error::validation("stdin", format!("Could not read standard input: {err}.")))?;
    Ok(buffer)
}

/// One line from standard input: the address the browser ended on. It holds
/// the sign-in code, so it is kept in zeroized memory and never printed.
/// None when nothing was pasted.
fn read_pasted_address() -> Option<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin().read_line(&mut line).ok()?;
    let address = Zeroizing::new(line.trim().to_owned());
    (!address.is_empty()).then_some(address)
}

/// The client's credential the flags give: a key Latch generates
/// (`--generate-client-key`), a private key file (`--client-key-file`), or
/// the client secret on standard input.
fn read_credential(fields: &args::SpecFlags) -> Result<Option<ClientSecret>, Error> {
    if let Some(kind) = &fields.generate_client_key {
        return Engine::generate_client_key(kind).map(Some);
    }
    if let Some(path) = &fields.client_key_file {
        let text = std::fs::read(path).map_err(|err| {
            Error::validation("client_secret", format!("Could not read the key file {}: {err}.", path.display()))
        })?;
        let text = Zeroizing::new(text);
        let pem = std::str::from_utf8(&text)
            .map_err(|_| Error::validation("client_secret", format!("{} is not a PEM text file.", path.display())))?;
        return Ok(Some(ClientSecret::new(pem.to_owned())));
    }
    read_secret(fields.client_secret_stdin)
}

/// The client certificate and key the flags give (mutual TLS, RFC 8705):
/// PEM files, a PKCS#12 file, or a self-signed one Latch makes for `name`.
/// Read and checked before anything is saved.
fn read_client_identity(
    fields: &args::SpecFlags,
    name: &str,
) -> Result<Option<(latch_core::secret::ClientIdentity, latch_core::model::ClientCertificate)>, Error> {
    use latch_core::flows::mtls;
    let read = |path: &std::path::Path| -> Result<Zeroizing<Vec<u8>>, Error> {
        let too_big = std::fs::metadata(path).is_ok_and(|meta| meta.len() > mtls::PEM_MAX_BYTES as u64);
        if too_big {
            return Err(Error::validation(mtls::FIELD, format!("{} is larger than 256 KiB; a certificate and key are a few kilobytes.", path.display())));
        }
        std::fs::read(path)
            .map(Zeroizing::new)
            .map_err(|err| Error::validation(mtls::FIELD, format!("Could not read {}: {err}.", path.display())))
    };
    let text = |bytes: &[u8], path: &std::path::Path| -> Result<String, Error> {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| Error::validation(mtls::FIELD, format!("{} is not a PEM text file; for a .p12/.pfx file use --client-p12.", path.display())))
    };
    let found = if fields.make_client_cert {
        mtls::self_signed(name, chrono::Utc::now())?
    } else if let Some(path) = &fields.client_p12 {
        let data = read(path)?;
        let password = match fields.client_p12_password_stdin {
            true => {
                let bytes = read_stdin()?;
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| Error::validation(mtls::FIELD, "The password on standard input is not valid text."))?;
                Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_owned())
            }
            false => Zeroizing::new(std::env::var("LATCH_CLIENT_P12_PASSWORD").unwrap_or_default()),
        };
        mtls::identity_from_pkcs12(&data, &password)?
    } else if let Some(path) = &fields.client_cert {
        let mut pem = Zeroizing::new(text(&read(path)?, path)?);
        if let Some(key) = &fields.client_cert_key {
            pem.push('\n');
            pem.push_str(&Zeroizing::new(text(&read(key)?, key)?));
        }
        mtls::identity_from_pem(&pem)?
    } else {
        return Ok(None);
    };
    mtls::check_current(&found.1, name, chrono::Utc::now())?;
    Ok(Some(found))
}

/// Saves the certificate the flags gave for a connection just added; the
/// connection is removed again when the keyring refuses it.
async fn save_client_identity(
    engine: &Arc<Engine>,
    connection: Connection,
    identity: Option<(latch_core::secret::ClientIdentity, latch_core::model::ClientCertificate)>,
) -> Result<Connection, Error> {
    let Some((identity, summary)) = identity else { return Ok(connection) };
    match engine.set_client_identity(connection.id.as_str(), &identity, summary).await {
        Ok(saved) => Ok(saved),
        Err(err) => {
            let _ = engine.remove(connection.id.as_str()).await;
            Err(err)
        }
    }
}

/// The client secret from standard input, without its trailing newline.
fn read_secret(wanted: bool) -> Result<Option<ClientSecret>, Error> {
    if !wanted {
        return Ok(None);
    }
    let bytes = read_stdin()?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Error::validation("client_secret", "The client secret on standard input is not valid text."))?;
    let secret = text.trim_end_matches(['\r', '\n']);
    if secret.is_empty() {
        return Err(Error::validation(
            "client_secret",
            "No client secret arrived on standard input. Pipe it in, e.g. 'pass show github-secret | latch add ... --client-secret-stdin'.",
        ));
    }
    Ok(Some(ClientSecret::new(secret.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::log_filter;
    use tracing_subscriber::filter::LevelFilter;

    #[test]
    fn latch_log_opens_latchs_own_logs_and_keeps_the_rest_at_warnings() {
        let quiet = log_filter("").unwrap();
        assert!(quiet.would_enable("latch_core::refresher", &tracing::Level::WARN));
        assert!(!quiet.would_enable("latch_core::refresher", &tracing::Level::INFO));

        let debug = log_filter(" debug ").unwrap();
        assert!(debug.would_enable("latch_core::refresher", &tracing::Level::DEBUG));
        assert!(debug.would_enable("latch", &tracing::Level::DEBUG));
        assert!(!debug.would_enable("latch_core::refresher", &tracing::Level::TRACE));
        assert!(!debug.would_enable("hyper::client", &tracing::Level::INFO));
        assert_eq!(debug.default_level(), Some(LevelFilter::WARN));
    }

    #[test]
    fn a_latch_log_that_is_no_level_is_named_in_the_message() {
        let problem = log_filter("loud").unwrap_err();
        assert!(problem.contains("LATCH_LOG=\"loud\" is not a log level"), "{problem}");
    }
}
