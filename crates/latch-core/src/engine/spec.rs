//! Spec connections (Make-style custom connections) in the engine: opening
//! a spec into a connection, signing in by its steps (`preauthorize` →
//! `authorize` → `token` → `info`), renewing by its `refresh` when its
//! `refresh.condition` says so, sending API requests through its `base`,
//! and its `invalidate` on disconnect. The steps run in `spec::runner`;
//! this file loads and stores what they need and make.
//!
//! Secrets: the common data and the password parameters live in the secret
//! store (`SPEC_COMMON`, `SPEC_SECRET_PARAMETERS`), the connection's data
//! inside its token set — one keyring entry, replaced whole on a refresh.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map as JsonMap, Value as Json};
use tokio::sync::oneshot;
use zeroize::Zeroizing;

use super::sign_in::Announcer;
use super::{Engine, SignInOptions};
use crate::error::{Error, FieldError, Result};
use crate::events::SignInEvent;
use crate::flows::loopback::{self, LoopbackListener, RedirectParams, ResponseMode};
use crate::flows::token_response::TokenGrant;
use crate::model::{Connection, Draft, KindSettings, SpecDocument, SpecSettings, SPEC_COMMON, SPEC_REDIRECT_PATH, SPEC_SECRET_PARAMETERS};
use crate::request::{self, ApiRequest, ApiResponse, RequestPreview};
use crate::secret::{RefreshToken, TokenData, TokenSet};
use crate::spec::runner::{self, RunInput, Runner, StepTrace};

/// What a user gives to make a connection from a spec.
#[derive(Debug, Clone, Default)]
pub struct SpecConnection {
    pub name: String,
    pub document: SpecDocument,
    /// Every parameter's value, password ones included (they are split off
    /// into the secret store).
    pub parameters: JsonMap<String, Json>,
    /// The app's common data (client id and secret…), over what the spec
    /// file ships.
    pub common: JsonMap<String, Json>,
    pub scopes: Vec<String>,
    pub redirect_port: u16,
    pub redirect_uri_override: Option<String>,
    /// The user confirmed that the spec may send a secret to a host other
    /// than its sign-in, token and API hosts.
    pub accept_secret_hosts: bool,
    /// The API base URL (else the spec's own) and the allowed hosts.
    pub api: crate::model::ApiAccess,
}

/// A change to a spec connection; what is left `None` or empty stays.
#[derive(Debug, Clone, Default)]
pub struct SpecEdit {
    /// A new version of the spec: checked first; an invalid one never
    /// replaces the working one.
    pub document: Option<SpecDocument>,
    /// Parameter values to set (password ones go to the secret store).
    pub parameters: JsonMap<String, Json>,
    /// Common values to set.
    pub common: JsonMap<String, Json>,
    pub scopes: Option<Vec<String>>,
    pub accept_secret_hosts: bool,
    /// A new API base URL, allowed hosts and caller-header choice (checked
    /// with the rest when saved); None keeps what is saved.
    pub api: Option<crate::model::ApiAccess>,
}

/// What a step run on demand did (the step runner).
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StepReport {
    pub requests: Vec<StepTrace>,
    /// The keys of the data the step produced (their values are secrets).
    pub data_keys: Vec<String>,
    pub account: Option<String>,
}

impl Engine {
    /// Every problem in a spec, each with the place it is at: what `latch
    /// spec check` prints and the app shows before anything is saved.
    pub fn spec_problems(document: &SpecDocument) -> Vec<String> {
        runner::check(document)
    }

    /// Makes a connection from a spec. Nothing is saved unless the spec
    /// checks, every required parameter and common value is there, and —
    /// when the spec sends a secret to a host other than its own — the user
    /// confirmed it.
    pub async fn create_spec(&self, input: SpecConnection) -> Result<Connection> {
        let document = &input.document;
        let problems = runner::check(document);
        if !problems.is_empty() {
            return Err(Error::invalid(problems.into_iter().map(|message| FieldError { field: "spec", message }).collect()));
        }
        let elsewhere = runner::secret_destinations(document);
        if !elsewhere.is_empty() && !input.accept_secret_hosts {
            return Err(Error::validation(
                "spec",
                format!(
                    "This spec sends your secret to {} — not the sign-in, token or API address of the service. Open it \
                     only if you trust whoever wrote it, and confirm.",
                    elsewhere.join(", ")
                ),
            ));
        }
        let secret_names = document.secret_parameters();
        let mut public = JsonMap::new();
        let mut secret = JsonMap::new();
        let mut errors = Vec::new();
        for (key, value) in &input.parameters {
            let definition = document.parameters.iter().find(|p| p.get("name").and_then(Json::as_str) == Some(key.as_str()));
            let Some(definition) = definition else {
                errors.push(FieldError { field: "parameters", message: format!("The spec has no parameter named '{key}'.") });
                continue;
            };
            if secret_names.contains(key) {
                if value.as_str().is_some_and(|v| !v.trim().is_empty()) {
                    secret.insert(key.clone(), value.clone());
                }
            } else {
                if let Err(message) = crate::validate::spec_parameter_value(definition, value) {
                    let label = definition.get("label").and_then(Json::as_str).unwrap_or(key);
                    errors.push(FieldError { field: "parameters", message: format!("{label}: {message}") });
                }
                public.insert(key.clone(), value.clone());
            }
        }
        for definition in &document.parameters {
            let Some(name) = definition.get("name").and_then(Json::as_str) else { continue };
            let required = definition.get("required").and_then(Json::as_bool) == Some(true);
            if required && secret_names.iter().any(|s| s == name) && !secret.contains_key(name) {
                let label = definition.get("label").and_then(Json::as_str).unwrap_or(name);
                errors.push(FieldError { field: "parameters", message: format!("{label} is required.") });
            }
        }
        let mut common = document.shipped_common();
        common.extend(input.common.clone().into_iter().filter(|(_, v)| !v.is_null()));
        let missing: Vec<&String> = document.common.keys().filter(|k| !common.contains_key(*k)).collect();
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|k| k.as_str()).collect();
            errors.push(FieldError {
                field: "common",
                message: format!(
                    "The spec needs its app's common data, which you get from whoever registered the app: {}.",
                    names.join(", ")
                ),
            });
        }
        if !errors.is_empty() {
            return Err(Error::invalid(errors));
        }
        let settings = SpecSettings {
            spec: document.without_common_values(),
            parameters: public,
            scopes: input.scopes.clone(),
            redirect_uri_override: input.redirect_uri_override.clone(),
            redirect_port: input.redirect_port,
            api: input.api.clone(),
        };
        let connection = self.create(Draft { name: input.name.clone(), settings: KindSettings::Spec(settings) }, None).await?;
        let saved = async {
            let common_text = Zeroizing::new(Json::Object(common).to_string());
            self.secrets.set_kind_secret(&connection.id, SPEC_COMMON.name(), &common_text).await?;
            if !secret.is_empty() {
                let secret_text = Zeroizing::new(Json::Object(secret).to_string());
                self.secrets.set_kind_secret(&connection.id, SPEC_SECRET_PARAMETERS.name(), &secret_text).await?;
            }
            Ok::<(), Error>(())
        }
        .await;
        if let Err(err) = saved {
            // Never a connection whose secrets are half there.
            let _ = self.remove(connection.id.as_str()).await;
            return Err(err);
        }
        Ok(connection)
    }

    /// Changes a spec connection: its spec, parameter values, common data
    /// or scopes. Every rule is checked before anything is saved, and the
    /// connection keeps its sign-in.
    pub async fn edit_spec(&self, name_or_id: &str, edit: SpecEdit) -> Result<Connection> {
        let connection = self.get(name_or_id)?;
        let Some(before) = connection.settings.spec().cloned() else {
            return Err(Error::validation("kind", format!("'{}' is not made from a spec.", connection.name)));
        };
        let (mut common, mut secret) = self.spec_secrets(&connection).await?;
        let mut settings = before.clone();
        if let Some(document) = edit.document {
            let problems = runner::check(&document);
            if !problems.is_empty() {
                return Err(Error::invalid(problems.into_iter().map(|message| FieldError { field: "spec", message }).collect()));
            }
            let elsewhere = runner::secret_destinations(&document);
            if !elsewhere.is_empty() && !edit.accept_secret_hosts {
                return Err(Error::validation(
                    "spec",
                    format!("The new spec sends your secret to {}; confirm to use it.", elsewhere.join(", ")),
                ));
            }
            for (key, value) in document.shipped_common() {
                common.entry(key).or_insert(value);
            }
            settings.spec = document.without_common_values();
        }
        let secret_names = settings.spec.secret_parameters();
        let mut errors = Vec::new();
        for (key, value) in edit.parameters {
            let Some(definition) = settings.spec.parameters.iter().find(|p| p.get("name").and_then(Json::as_str) == Some(key.as_str())) else {
                errors.push(FieldError { field: "parameters", message: format!("The spec has no parameter named '{key}'.") });
                continue;
            };
            if secret_names.contains(&key) {
                secret.insert(key, value);
            } else if value.is_null() {
                settings.parameters.remove(&key);
            } else {
                if let Err(message) = crate::validate::spec_parameter_value(definition, &value) {
                    let label = definition.get("label").and_then(Json::as_str).unwrap_or(&key);
                    errors.push(FieldError { field: "parameters", message: format!("{label}: {message}") });
                }
                settings.parameters.insert(key, value);
            }
        }
        common.extend(edit.common.into_iter().filter(|(_, v)| !v.is_null()));
        let missing: Vec<&str> = settings.spec.common.keys().filter(|k| !common.contains_key(*k)).map(String::as_str).collect();
        if !missing.is_empty() {
            errors.push(FieldError {
                field: "common",
                message: format!("The spec needs its app's common data: {}.", missing.join(", ")),
            });
        }
        if let Some(scopes) = edit.scopes {
            settings.scopes = scopes;
        }
        if let Some(api) = edit.api {
            settings.api = api;
        }
        if !errors.is_empty() {
            return Err(Error::invalid(errors));
        }
        // Secrets first: a row never names values the store lacks.
        let common_text = Zeroizing::new(Json::Object(common).to_string());
        self.secrets.set_kind_secret(&connection.id, SPEC_COMMON.name(), &common_text).await?;
        let secret_text = Zeroizing::new(Json::Object(secret).to_string());
        self.secrets.set_kind_secret(&connection.id, SPEC_SECRET_PARAMETERS.name(), &secret_text).await?;
        let draft = Draft { name: connection.name.clone(), settings: KindSettings::Spec(settings) };
        self.update(connection.id.as_str(), draft, super::SecretChange::Keep).await
    }

    /// The common data and the password parameters of a spec connection.
    async fn spec_secrets(&self, connection: &Connection) -> Result<(JsonMap<String, Json>, JsonMap<String, Json>)> {
        let read = |text: Option<Zeroizing<String>>| -> JsonMap<String, Json> {
            text.and_then(|t| serde_json::from_str::<JsonMap<String, Json>>(&t).ok()).unwrap_or_default()
        };
        let common = read(self.secrets.kind_secret(&connection.id, SPEC_COMMON.name()).await?);
        let secret = read(self.secrets.kind_secret(&connection.id, SPEC_SECRET_PARAMETERS.name()).await?);
        Ok((common, secret))
    }

    fn spec_runner<'a>(
        &'a self,
        settings: &'a SpecSettings,
        (common, secret): (JsonMap<String, Json>, JsonMap<String, Json>),
        data: JsonMap<String, Json>,
        redirect_uri: String,
    ) -> Runner<'a> {
        Runner::new(
            RunInput {
                document: &settings.spec,
                parameters: settings.parameters.clone(),
                secret_parameters: secret,
                common,
                data,
                scopes: settings.effective_scopes(),
                redirect_uri,
            },
            self.http(),
            self.now(),
        )
    }

    /// Signs in by the spec's steps.
    pub(super) async fn spec_sign_in(
        &self,
        connection: &Connection,
        settings: &SpecSettings,
        options: &SignInOptions,
        announcer: &Announcer,
        pasted: oneshot::Receiver<Zeroizing<String>>,
    ) -> Result<(TokenGrant, Option<String>)> {
        let secrets = self.spec_secrets(connection).await?;
        let paste = settings.uses_browser() && (options.paste || settings.redirect_uri_override.is_some());
        // Bound first: the redirect URI names the port.
        let listener = match settings.uses_browser() && !paste {
            true => Some(LoopbackListener::bind(settings.redirect_port, SPEC_REDIRECT_PATH).await?),
            false => None,
        };
        let redirect_uri = match &listener {
            Some(listener) => settings.redirect_uri(listener.port()),
            None => settings.redirect_uri_override.clone().unwrap_or_else(|| settings.redirect_uri_to_register()),
        };
        let mut runner = self.spec_runner(settings, secrets, JsonMap::new(), redirect_uri.clone());
        let oauth1 = settings.spec.is_oauth1();
        let state = oauth2::CsrfToken::new_random();
        if oauth1 {
            if listener.is_none() {
                return Err(Error::validation(
                    "redirect_uri_override",
                    "OAuth 1.0 specs sign in through Latch's own redirect; remove the hosted redirect address.",
                ));
            }
            // The callback carries Latch's `state` (the provider keeps its query).
            runner.oauth1_callback = Some(format!("{redirect_uri}?state={}", state.secret()));
            announcer.emit(self, SignInEvent::Requesting);
            runner.run("requestToken").await?;
            if runner.request_token.is_none() {
                return Err(Error::provider("The spec's 'requestToken' step got no oauth_token from the provider."));
            }
        }
        if runner.has("preauthorize") {
            announcer.emit(self, SignInEvent::Requesting);
            runner.run("preauthorize").await?;
        }
        if settings.uses_browser() {
            let url = runner.authorize_url(state.secret())?;
            let browser_error = self.open_in_browser(url.as_str());
            let deadline = (!paste).then(|| self.now() + chrono::Duration::from_std(options.timeout).unwrap_or_default());
            announcer.emit(
                self,
                SignInEvent::Started { authorize_url: url.to_string(), redirect_uri: redirect_uri.clone(), deadline, browser_error, paste },
            );
            let params = match listener {
                Some(listener) => listener.wait(ResponseMode::Query, state.secret(), options.timeout).await?,
                None => {
                    let address = pasted.await.map_err(|_| Error::cancelled("Sign-in cancelled."))?;
                    announcer.emit(self, SignInEvent::AddressReceived);
                    let params = RedirectParams::from_pasted_url(&address, &redirect_uri, ResponseMode::Query)?;
                    if params.get("error").is_none() {
                        loopback::check_state(&params, state.secret())?;
                    }
                    params
                }
            };
            let query = params.to_json();
            if oauth1 && query.get("oauth_token").and_then(Json::as_str) != runner.request_token.as_deref() {
                return Err(Error::provider(
                    "The provider's answer did not name the request Latch made (a different or missing oauth_token), so \
                     Latch ignored it and asked for no access token. Connect again.",
                ));
            }
            runner.authorized(query)?;
        }
        let token_step = settings.spec.token_step();
        announcer.emit(self, SignInEvent::Requesting);
        let token = runner.run(token_step).await?;
        if !token.ran {
            return Err(Error::provider(format!(
                "The spec's '{token_step}' step did not run: its condition was false (for example, no code came back \
                 from the sign-in page)."
            )));
        }
        // `info` checks the new connection and names the account (Make's
        // order): its data joins the token step's before anything is
        // stored, and a failure fails the sign-in.
        let account = if runner.has("info") { runner.run("info").await?.account } else { None };
        let mut grant = spec_grant(&runner, token.expires, self.now())?;
        grant.account = account;
        Ok((grant, None))
    }

    /// Renews by the spec's `refresh` step. Latch decided it is due (by the
    /// step's condition, see [`Engine::spec_due`]), so the step runs.
    pub(super) async fn spec_refresh(&self, connection: &Connection, settings: &SpecSettings, tokens: Option<&TokenSet>) -> Result<TokenGrant> {
        let name = &connection.name;
        if connection.refresh_expires_at.is_some_and(|at| at <= self.now()) {
            return Err(Error::needs_authorization(format!("The saved sign-in for '{name}' has expired."))
                .with_action(connection.sign_in_again()));
        }
        if settings.spec.step("refresh").is_none() {
            return Err(Error::needs_authorization(format!(
                "The spec of '{name}' has no refresh step, so Latch cannot renew its access without you."
            ))
            .with_action(connection.sign_in_again()));
        }
        let secrets = self.spec_secrets(connection).await?;
        let mut runner = self.spec_runner(settings, secrets, spec_data(tokens), settings.redirect_uri_to_register());
        runner.force = true;
        let result = runner.run("refresh").await?;
        // `response.expires` only when the refresh gives one: else the old one.
        let expires = result.expires.or(connection.refresh_expires_at);
        spec_grant(&runner, expires, self.now())
    }

    /// When a spec connection's token is due: the first moment its
    /// `refresh.condition` holds, at least a minute (half the lifetime for
    /// short ones) after it was issued, and at the latest when it expires.
    pub(super) fn spec_due(&self, settings: &SpecSettings, tokens: &TokenSet, expires: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        settings.spec.step("refresh")?;
        let expires = expires?;
        let now = self.now();
        let runner = self.spec_runner(settings, (JsonMap::new(), JsonMap::new()), spec_data(Some(tokens)), String::new());
        let earliest = (now + chrono::Duration::seconds(60).min((expires - now) / 2)).max(now + chrono::Duration::seconds(1));
        if earliest >= expires {
            return Some(expires);
        }
        let holds = |at: DateTime<Utc>| runner.refresh_due(at).unwrap_or(true);
        if holds(earliest) {
            return Some(earliest);
        }
        if !holds(expires) {
            return Some(expires);
        }
        // The condition turns true once (`data.expires < addMinutes(now, N)`):
        // find when, to the second.
        let (mut low, mut high) = (earliest, expires);
        while high - low > chrono::Duration::seconds(1) {
            let middle = low + (high - low) / 2;
            if holds(middle) {
                high = middle;
            } else {
                low = middle;
            }
        }
        Some(high)
    }

    /// The spec's `invalidate` step on disconnect; `None` when it has none.
    pub(super) async fn spec_invalidate(&self, connection: &Connection, settings: &SpecSettings, tokens: &TokenSet) -> Option<Result<()>> {
        settings.spec.step("invalidate")?;
        let outcome = async {
            let secrets = self.spec_secrets(connection).await?;
            let mut runner = self.spec_runner(settings, secrets, spec_data(Some(tokens)), settings.redirect_uri_to_register());
            runner.run("invalidate").await.map(|_| ())
        }
        .await;
        Some(outcome)
    }

    /// Runs `info` or `refresh` on demand and reports what was sent and
    /// received, secrets masked (the spec editor's step runner). A refresh
    /// run here is stored like any refresh.
    pub async fn run_spec_step(&self, name_or_id: &str, step: &str) -> Result<StepReport> {
        let connection = self.get(name_or_id)?;
        let Some(settings) = connection.settings.spec().cloned() else {
            return Err(Error::validation("kind", format!("'{}' is not made from a spec.", connection.name)));
        };
        match step {
            "info" => {
                let tokens = self.fresh_tokens(name_or_id).await?.1;
                let secrets = self.spec_secrets(&connection).await?;
                let mut runner = self.spec_runner(&settings, secrets, spec_data(Some(&tokens)), settings.redirect_uri_to_register());
                let result = runner.run("info").await;
                let trace = std::mem::take(&mut runner.trace);
                let result = result?;
                Ok(StepReport { requests: trace, data_keys: result.data.keys().cloned().collect(), account: result.account })
            }
            "refresh" => {
                let refreshed = self.refresh(name_or_id).await?;
                Ok(StepReport { requests: Vec::new(), data_keys: Vec::new(), account: refreshed.account })
            }
            other => Err(Error::validation("step", format!("'{other}' cannot be run on its own; run 'info' or 'refresh'."))),
        }
    }

    /// Sends an API request through the spec's base. A 401 from the
    /// provider's own hosts renews once and tries once more.
    pub(super) async fn spec_request(&self, name_or_id: &str, api: &ApiRequest) -> Result<ApiResponse> {
        self.check_destination(&self.get(name_or_id)?, &api.url)?;
        let (connection, tokens) = self.fresh_tokens(name_or_id).await?;
        let built = self.spec_built(&connection, &tokens, api).await?;
        let response = request::send(self.http(), built).await?;
        if response.status != 401 || !connection.can_renew() {
            return Ok(response);
        }
        let need = super::tokens::RefreshNeed::Rejected(tokens.access_token.clone());
        let (connection, fresh) = self.refresh_single_flight(&connection.id, need).await?;
        self.spec_send(&connection, &fresh, api).await
    }

    pub(super) async fn spec_built(&self, connection: &Connection, tokens: &TokenSet, api: &ApiRequest) -> Result<oauth2::http::Request<Vec<u8>>> {
        let settings = connection.settings.spec().ok_or_else(|| Error::validation("kind", "not a spec connection"))?;
        let secrets = self.spec_secrets(connection).await?;
        let runner = self.spec_runner(settings, secrets, spec_data(Some(tokens)), settings.redirect_uri_to_register());
        runner.api_request(&api.method, api.url.trim(), &api.headers, api.body.as_deref())
    }

    async fn spec_send(&self, connection: &Connection, tokens: &TokenSet, api: &ApiRequest) -> Result<ApiResponse> {
        let request = self.spec_built(connection, tokens, api).await?;
        request::send(self.http(), request).await
    }

    /// Where a spec connection's request goes, its secrets masked.
    pub(super) fn spec_preview(&self, connection: &Connection, api: &ApiRequest) -> Result<RequestPreview> {
        let settings = connection.settings.spec().ok_or_else(|| Error::validation("kind", "not a spec connection"))?;
        let runner = self.spec_runner(settings, masked_secrets(settings), masked_data(request::TOKEN_MASK), String::new());
        Ok(request::preview_of(&runner.api_request(&api.method, api.url.trim(), &api.headers, api.body.as_deref())?))
    }

    /// A spec connection's request as a curl line: the real credential, or
    /// `$TOKEN` where the access token goes.
    pub(super) async fn spec_curl(&self, name_or_id: &str, api: &ApiRequest, include_token: bool) -> Result<Zeroizing<String>> {
        if include_token {
            self.check_destination(&self.get(name_or_id)?, &api.url)?;
            let (connection, tokens) = self.fresh_tokens(name_or_id).await?;
            let request = self.spec_built(&connection, &tokens, api).await?;
            return Ok(request::curl_of(&request, api.body.as_deref(), None));
        }
        let connection = self.get(name_or_id)?;
        let settings = connection.settings.spec().ok_or_else(|| Error::validation("kind", "not a spec connection"))?;
        let marker = request::token_marker();
        let runner = self.spec_runner(settings, masked_secrets(settings), masked_data(&marker), String::new());
        let request = runner.api_request(&api.method, api.url.trim(), &api.headers, api.body.as_deref())?;
        Ok(request::curl_of(&request, api.body.as_deref(), Some(&marker)))
    }
}

/// A spec connection's data from its stored token set.
fn spec_data(tokens: Option<&TokenSet>) -> JsonMap<String, Json> {
    tokens
        .and_then(|t| t.data.as_ref())
        .and_then(|d| serde_json::from_str::<JsonMap<String, Json>>(d.secret()).ok())
        .unwrap_or_default()
}

/// Data for showing a request without its secrets: the usual token keys
/// hold `mask`.
fn masked_data(mask: &str) -> JsonMap<String, Json> {
    ["accessToken", "access_token", "token", "apiKey"].iter().map(|k| ((*k).to_owned(), Json::String(mask.to_owned()))).collect()
}

/// Common values and password parameters shown as the mask.
fn masked_secrets(settings: &SpecSettings) -> (JsonMap<String, Json>, JsonMap<String, Json>) {
    let mask = || Json::String(request::TOKEN_MASK.to_owned());
    let common = settings.spec.common.keys().map(|k| (k.clone(), mask())).collect();
    let secret = settings.spec.secret_parameters().into_iter().map(|k| (k, mask())).collect();
    (common, secret)
}

/// What a spec's step stored, as a token grant: its data whole, the access
/// and refresh tokens it names, `data.expires` as the access expiry and
/// `response.expires` as the sign-in's.
fn spec_grant(runner: &Runner<'_>, expires: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<TokenGrant> {
    let data = &runner.data;
    let access_token = runner.access_token().ok_or_else(|| {
        Error::provider(
            "The spec's 'token' step stored no access token: its response.data has no 'accessToken', and its base \
             places no credential. Check the spec's token step.",
        )
    })?;
    let refresh_token = ["refreshToken", "refresh_token"]
        .iter()
        .find_map(|k| data.get(*k).and_then(Json::as_str).filter(|t| !t.is_empty()))
        .map(|t| RefreshToken::new(t.to_owned()));
    let until = |at: DateTime<Utc>| (at - now).to_std().ok().or(Some(Duration::ZERO));
    let access_expires = data.get("expires").and_then(|v| runner::date_of(&crate::spec::iml::Value::from_json(v)));
    Ok(TokenGrant {
        tokens: TokenSet {
            access_token,
            refresh_token,
            id_token: None,
            token_type: "Bearer".into(),
            data: Some(TokenData::new(Json::Object(data.clone()).to_string())),
        },
        expires_in: access_expires.and_then(until),
        refresh_expires_in: expires.and_then(until),
        scopes: None,
        account: None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::Clock;
    use crate::engine::test_engine_with_clock;
    use crate::model::Status;

    /// A token endpoint answering every POST with a one-hour token and a
    /// refresh token, counting the requests.
    async fn token_endpoint() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = served.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buffer = vec![0; 8192];
                let _ = stream.read(&mut buffer).await;
                let body = format!(r#"{{"access_token":"at-{n}","refresh_token":"rt-{n}","expires_in":3600}}"#);
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            }
        });
        (url, served)
    }

    /// A spec without a browser step: its token step asks with the app's
    /// credentials; renewal when `data.expires` is under ten minutes away;
    /// the sign-in ends after 30 minutes (`response.expires`).
    fn spec(token_url: &str) -> SpecDocument {
        let document = serde_json::json!({
            "communication": {
                "token": {
                    "url": token_url, "method": "POST", "type": "urlencoded",
                    "body": { "grant_type": "client_credentials", "client_id": "{{common.clientId}}" },
                    "response": {
                        "data": { "accessToken": "{{body.access_token}}", "refreshToken": "{{body.refresh_token}}",
                                  "expires": "{{addSeconds(now, body.expires_in)}}" },
                        "expires": "{{addMinutes(now, 30)}}"
                    }
                },
                "refresh": {
                    "condition": "{{data.expires < addMinutes(now, 10)}}",
                    "url": token_url, "method": "POST", "type": "urlencoded",
                    "body": { "grant_type": "refresh_token", "refresh_token": "{{data.refreshToken}}" },
                    "response": { "data": { "accessToken": "{{body.access_token}}", "expires": "{{addSeconds(now, body.expires_in)}}" } }
                }
            },
            "common": { "clientId": "" }
        });
        serde_json::from_value(document).unwrap()
    }

    #[tokio::test]
    async fn the_refresh_is_due_when_the_specs_condition_first_holds_and_the_sign_in_ends_at_response_expires() {
        let (_dir, engine, clock) = test_engine_with_clock();
        let engine = Arc::new(engine);
        let (token_url, served) = token_endpoint().await;
        let mut common = JsonMap::new();
        common.insert("clientId".into(), "app".into());
        let input = SpecConnection { name: "Spec".into(), document: spec(&token_url), common, ..SpecConnection::default() };
        engine.create_spec(input).await.unwrap();
        let connected = engine.sign_in("Spec", SignInOptions::default()).unwrap().outcome().await.unwrap();
        assert_eq!(connected.status, Status::Connected);
        let expires = connected.access_expires_at.unwrap();
        let due = connected.refresh_due_at.expect("a due time from the condition");
        let expected = expires - chrono::Duration::minutes(10);
        assert!((due - expected).num_seconds().abs() <= 1, "due {due}, expected {expected}");
        assert!(connected.can_renew());

        // Before the condition holds, a token is served without asking.
        clock.advance(chrono::Duration::minutes(20));
        engine.access_token("Spec").await.unwrap();
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
        // The refresher plans on the same time.
        let list = engine.list().unwrap();
        let settings = Default::default();
        assert!(crate::refresher::plan(&list, clock.now(), &settings).refresh_now.is_empty());
        let one_second = chrono::Duration::seconds(1);
        assert!(crate::refresher::plan(&list, due - one_second, &settings).refresh_now.is_empty());
        assert_eq!(crate::refresher::plan(&list, due, &settings).refresh_now, [connected.id.clone()]);

        // Past `response.expires` the user must sign in again: no request, one notice.
        clock.advance(chrono::Duration::minutes(11));
        let err = engine.refresh("Spec").await.unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::NeedsAuthorization);
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1, "nothing sent");
        let after = engine.get("Spec").unwrap();
        assert_eq!(after.status, Status::NeedsReauth);
        let plan = crate::refresher::plan(&[after], clock.now(), &Default::default());
        assert_eq!(plan.notify_reauth.len(), 1);
        assert!(plan.refresh_now.is_empty());
    }

    #[tokio::test]
    async fn a_token_step_that_stores_no_access_token_says_so_and_stores_nothing() {
        let (_dir, engine, _clock) = test_engine_with_clock();
        let engine = Arc::new(engine);
        let (token_url, _) = token_endpoint().await;
        let mut document = spec(&token_url);
        document.communication["token"]["response"]["data"] = serde_json::json!({ "other": "{{body.access_token}}" });
        let mut common = JsonMap::new();
        common.insert("clientId".into(), "app".into());
        engine.create_spec(SpecConnection { name: "Spec".into(), document, common, ..SpecConnection::default() }).await.unwrap();
        let err = engine.sign_in("Spec", SignInOptions::default()).unwrap().outcome().await.unwrap_err();
        assert!(err.message.contains("stored no access token"), "{}", err.message);
        assert!(!err.message.contains("at-0"), "{}", err.message);
        let after = engine.get("Spec").unwrap();
        assert_eq!(after.status, Status::Error);
        assert!(engine.secrets.token_set(&after.id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_spec_without_its_common_data_or_with_a_wrong_parameter_is_not_saved() {
        let (_dir, engine, _clock) = test_engine_with_clock();
        let mut document = spec("https://id.example.com/token");
        document.parameters = vec![serde_json::json!({ "name": "port", "type": "uinteger", "label": "Port", "required": true })];
        let input = SpecConnection { name: "Spec".into(), document: document.clone(), ..SpecConnection::default() };
        let err = engine.create_spec(input).await.unwrap_err();
        let said: Vec<&str> = err.fields.iter().map(|f| f.message.as_str()).collect();
        assert!(said.iter().any(|m| m.contains("clientId")), "{said:?}");
        let mut parameters = JsonMap::new();
        parameters.insert("port".into(), serde_json::json!(-3));
        let mut common = JsonMap::new();
        common.insert("clientId".into(), "app".into());
        let input = SpecConnection { name: "Spec".into(), document, parameters, common, ..SpecConnection::default() };
        let err = engine.create_spec(input).await.unwrap_err();
        assert_eq!(err.fields[0].message, "Port: must not be negative.");
        assert!(engine.list().unwrap().is_empty());
    }
}
