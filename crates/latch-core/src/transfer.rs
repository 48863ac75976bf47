//! Export and import of connection settings, to move them to another machine
//! or share a provider's setup. The file holds only what the user typed
//! (each connection's [`Draft`]: name, kind, settings): never a secret, a
//! token or a status. Pure functions: the engine's `engine/transfer.rs`
//! reads the store and writes the plan these return.
//!
//! The format is versioned (`latch_export`); README.md documents it. A
//! reader refuses versions newer than it knows rather than guess.
//!
//! A file may come from someone else, so before anything is imported the
//! preview says where each connection sends the user's sign-in, client
//! secret and tokens ([`exposure`]): every host, not only the sign-in
//! page's, and every setting that weakens the sign-in. A connection whose
//! addresses are on more than one site, or that weakens the sign-in, is
//! imported only when the user said they trust it ([`ImportAnswers`]).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{list_in_words, Error, FieldError, Result};
use crate::hosts;
use crate::model::{Connection, Draft, Flow, KindSettings, OAuth2Settings, Pkce};
use crate::presets;
use crate::validate;

/// The export format version this Latch writes and the newest it reads.
pub const EXPORT_VERSION: u64 = 1;

/// The largest file an import reads: 10 MiB, checked before anything is
/// parsed. A pretty-printed export takes about 1 kB per connection.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// An export file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportFile {
    pub latch_export: u64,
    pub exported_at: DateTime<Utc>,
    pub connections: Vec<Draft>,
}

/// What an import did.
#[derive(Debug)]
pub struct Imported {
    pub connections: Vec<Connection>,
    /// Names of imported connections that need a client secret before they
    /// can connect (secrets are never exported).
    pub need_secret: Vec<String>,
    /// Names of connections here that imported ones replaced.
    pub replaced: Vec<String>,
    /// Names in the file that were left out, as asked.
    pub skipped: Vec<String>,
}

/// What to do with a connection in the file whose name is already taken
/// here. Without a choice the import refuses: nothing is overwritten silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum NameConflict {
    /// Import it under this other name; the existing one stays.
    KeepBoth { name: String },
    /// Delete the existing connection (with its tokens and client secret)
    /// and import this one in its place.
    Replace,
    /// Leave this one out.
    Skip,
}

/// One connection of an export file, as an import would treat it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportCandidate {
    pub name: String,
    pub provider_host: Option<String>,
    /// A connection here already has this name: a [`NameConflict`] is needed.
    pub name_taken: bool,
    /// A free name for "keep both": the name itself when it is free.
    pub suggested_name: String,
    /// Every host the connection sends something to (see [`Exposure::hosts`]).
    pub hosts: Vec<String>,
    /// What the user should know before trusting it, one sentence each.
    pub warnings: Vec<String>,
    /// It is imported only if the user confirms they trust `hosts` with it.
    pub needs_confirmation: bool,
}

/// Which connections of a file the user trusts with their sign-in and
/// tokens after seeing the preview's hosts and warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Accepted {
    /// None: a connection that needs confirmation is refused.
    #[default]
    None,
    /// These, by their name in the file (ignoring case).
    Names(Vec<String>),
    /// Every connection in the file (`latch import --accept-hosts`).
    All,
}

/// The user's answers to an import's preview.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportAnswers {
    /// What to do with each name in the file that is taken here (matched
    /// ignoring case).
    pub conflicts: Vec<(String, NameConflict)>,
    /// The answer for a taken name without one of its own (`latch import
    /// --replace`); none: such a name is refused.
    pub otherwise: Option<NameConflict>,
    /// The connections whose hosts and warnings the user accepted.
    pub accepted: Accepted,
    /// The [`digest`] of the file the preview showed: a file that changed
    /// since is refused, so what is imported is what was shown.
    pub previewed: Option<String>,
}

impl From<&[(String, NameConflict)]> for ImportAnswers {
    /// Name choices alone: nothing accepted, any file.
    fn from(conflicts: &[(String, NameConflict)]) -> Self {
        ImportAnswers { conflicts: conflicts.to_vec(), ..ImportAnswers::default() }
    }
}

impl<const N: usize> From<&[(String, NameConflict); N]> for ImportAnswers {
    fn from(conflicts: &[(String, NameConflict); N]) -> Self {
        ImportAnswers::from(conflicts.as_slice())
    }
}

impl From<&Vec<(String, NameConflict)>> for ImportAnswers {
    fn from(conflicts: &Vec<(String, NameConflict)>) -> Self {
        ImportAnswers::from(conflicts.as_slice())
    }
}

/// The identity of a file's bytes (SHA-256, hex): the preview gives it, the
/// import checks it.
pub fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Refuses a file larger than [`MAX_FILE_BYTES`]; `len` is its size, or
/// what a reader got when it stopped one byte past the limit.
pub fn check_size(len: u64) -> Result<()> {
    if len > MAX_FILE_BYTES {
        return Err(Error::validation(
            "import",
            format!(
                "The file is larger than {} MiB, the most Latch imports (an export takes about 1 kB per connection). \
                 Check that it is a file Latch exported. Nothing was imported.",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    Ok(())
}

/// Reads an export file from `reader`, stopping one byte past
/// [`MAX_FILE_BYTES`] (a larger file is refused, unread). For the front
/// ends' readers; `source` names the file in the error ("'a.json'",
/// "standard input").
pub fn read_limited(reader: impl std::io::Read, source: &str) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    reader.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|err| {
        Error::validation("import", format!("Latch could not read {source}: {err}. Nothing was imported."))
    })?;
    check_size(bytes.len() as u64)?;
    Ok(bytes)
}

/// Reads an export file, checking its size and then its version before
/// anything else. Messages name what is wrong and where, never a value from
/// the file other than a connection's name (a file may hold a token pasted
/// into the wrong field).
pub fn parse(bytes: &[u8]) -> Result<ExportFile> {
    check_size(bytes.len() as u64)?;
    let refuse = |message: String| Error::validation("import", format!("{message} Nothing was imported."));
    let mut value: Value = serde_json::from_slice(bytes).map_err(|err| {
        let (found, expected) = without_values(&err);
        refuse(format!("The file is not valid JSON ({found}{expected}). Check that it is a file Latch exported."))
    })?;
    let version = match value.get("latch_export") {
        Some(v) => {
            v.as_u64().ok_or_else(|| refuse("The file's 'latch_export' version is not a version number.".into()))?
        }
        None => return Err(refuse("The file is not a Latch export (it has no 'latch_export' version).".into())),
    };
    if version > EXPORT_VERSION {
        return Err(refuse(format!(
            "The file was written by a newer Latch (export version {version}); this Latch reads version {EXPORT_VERSION} \
             and older. Update Latch and import again."
        )));
    }
    let exported_at = value
        .get("exported_at")
        .and_then(|v| v.as_str())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| refuse("The file's 'exported_at' is missing or not an RFC 3339 time.".into()))?;
    let list = match value.get_mut("connections").map(Value::take) {
        Some(Value::Array(list)) => list,
        _ => return Err(refuse("The file has no 'connections' list.".into())),
    };
    let mut connections = Vec::with_capacity(list.len());
    for (index, mut item) in list.into_iter().enumerate() {
        // Files written before kinds existed hold OAuth 2.0 connections only.
        if let Some(object) = item.as_object_mut() {
            object.entry("kind").or_insert_with(|| "oauth2".into());
        }
        let spec = Draft::deserialize(&item).map_err(|err| {
            let label = connection_label(index, item.get("name").and_then(|n| n.as_str()));
            let (found, expected) = without_values(&err);
            let at = match failing_field(&item) {
                Some(field) if !found.starts_with("missing field") => format!(" in '{field}'"),
                _ => String::new(),
            };
            refuse(format!("{label} in the file could not be read ({found}{at}{expected})."))
        })?;
        connections.push(spec);
    }
    Ok(ExportFile { latch_export: version, exported_at, connections })
}

/// "Connection 3 ('GitHub')", or "Connection 3" when the name is not one
/// Latch would accept (too long, control characters: never echoed).
fn connection_label(index: usize, name: Option<&str>) -> String {
    match name.filter(|n| validate::check_name(n).is_ok()) {
        Some(name) => format!("Connection {} ('{name}')", index + 1),
        None => format!("Connection {}", index + 1),
    }
}

/// serde's message without what it found, as (what was wrong, ", expected
/// …"). serde quotes the value that did not fit (`invalid type: string
/// "…", expected u16`, ``unknown variant `…`, expected one of …``); a file
/// may hold a token in the wrong field, so only the kind of value is kept.
/// What follows the last ", expected " is serde's description of Latch's
/// own types, and stays.
fn without_values(err: &serde_json::Error) -> (String, String) {
    let message = err.to_string();
    if !err.is_data() {
        // Syntax errors say where ("at line 3 column 7"), never what.
        return (message, String::new());
    }
    let (found, expected) = match message.rfind(", expected ") {
        Some(at) => (&message[..at], message[at..].to_owned()),
        None => (message.as_str(), String::new()),
    };
    let kind_of = |unexpected: &str| {
        let kinds = [
            ("string", "a string"),
            ("char", "a string"),
            ("integer", "a number"),
            ("floating point", "a number"),
            ("boolean", "true or false"),
            ("null", "null"),
            ("unit", "null"),
            ("map", "an object"),
            ("sequence", "a list"),
        ];
        kinds.iter().find(|(prefix, _)| unexpected.starts_with(prefix)).map_or("a value", |(_, kind)| kind)
    };
    let identifier = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    let found = if let Some(rest) = found.strip_prefix("invalid type: ") {
        format!("invalid type: {}", kind_of(rest))
    } else if let Some(rest) = found.strip_prefix("invalid value: ") {
        format!("invalid value: {}", kind_of(rest))
    } else if found.starts_with("unknown variant") {
        "unknown variant".into()
    } else if found.starts_with("unknown field") {
        "unknown field".into()
    } else if found.strip_prefix("missing field `").and_then(|f| f.strip_suffix('`')).is_some_and(identifier)
        || found.strip_prefix("invalid length ").is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
    {
        // A field of Latch's, or a count: nothing from the file.
        found.to_owned()
    } else {
        // Anything else (a type's own message) may quote the value: say less.
        return ("a value Latch cannot read".into(), String::new());
    };
    (found, expected)
}

/// The first setting of a connection entry (by name) that cannot be read
/// on its own, when it is one Latch knows: what a message may name.
fn failing_field(item: &Value) -> Option<String> {
    let object = item.as_object()?;
    let known = known_fields();
    let fits = |entries: &[(&str, &Value)]| {
        let probe: serde_json::Map<String, Value> = entries.iter().map(|(k, v)| (k.to_string(), (*v).clone())).collect();
        serde_json::from_value::<Draft>(Value::Object(probe)).is_ok()
    };
    let name = Value::from("x");
    let kind = object.get("kind").cloned().unwrap_or_else(|| "oauth2".into());
    if !fits(&[("name", &name), ("kind", &kind)]) {
        return Some("kind".into());
    }
    if !fits(&[("name", object.get("name").unwrap_or(&Value::Null)), ("kind", &kind)]) {
        return Some("name".into());
    }
    object
        .iter()
        .filter(|(key, _)| known.contains(key.as_str()) && *key != "name" && *key != "kind")
        .find(|(key, value)| !fits(&[("name", &name), ("kind", &kind), (key.as_str(), value)]))
        .map(|(key, _)| key.clone())
}

/// The settings a connection entry may hold, by their names in the file.
fn known_fields() -> HashSet<String> {
    let draft = Draft { name: String::new(), settings: KindSettings::OAuth2(OAuth2Settings::default()) };
    match serde_json::to_value(&draft) {
        Ok(Value::Object(object)) => object.into_iter().map(|(key, _)| key).collect(),
        _ => HashSet::new(),
    }
}

/// Where a connection sends the user's sign-in, client secret and tokens,
/// and what in it weakens the sign-in: what the user must see before
/// trusting a connection from a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exposure {
    /// Every host an address of the connection names (`host`, or
    /// `host:port` when the port is not the scheme's), in the form's order:
    /// sign-in page, token, refresh, revoke, user info, device
    /// authorization, issuer, hosted redirect page. Resource indicators are
    /// not addresses Latch sends anything to, and are left out.
    pub hosts: Vec<String>,
    /// The sites those hosts belong to (see [`site_of`]).
    pub sites: Vec<String>,
    /// One sentence each: the sites when there is more than one, then each
    /// downgrade, then plain http.
    pub warnings: Vec<String>,
    /// A setting weakens the sign-in (see [`exposure`]).
    pub downgraded: bool,
    /// More than one site, or a downgrade: import only if the user says so.
    pub needs_confirmation: bool,
}

/// Reads a connection's addresses and security settings (see [`Exposure`]).
///
/// Downgrades, against what Latch sets up for the same provider: the
/// implicit flow; PKCE off or `plain` with the authorization code flow;
/// sign-in responses accepted without `iss` although an issuer is set
/// (`require_iss` off), unless Latch's preset for that issuer has it off
/// too (the provider does not send `iss`). Plain http (allowed on loopback
/// only) is said, and needs confirmation only through the site rule: a
/// connection wholly on one local address (a development server) names that
/// address as its only host.
pub fn exposure(settings: &KindSettings) -> Exposure {
    match settings {
        KindSettings::OAuth2(settings) => addresses_exposure(
            &[
                ("sign-in page", settings.authorize_url.clone()),
                ("token", settings.token_url.clone()),
                ("refresh", settings.refresh_url.clone()),
                ("revoke", settings.revoke_url.clone()),
                ("user info", settings.info_url.clone()),
                ("device authorization", settings.device_url.clone()),
                ("pushed sign-in request", settings.par_url.clone()),
                ("issuer", settings.issuer.clone()),
                ("redirect page", settings.redirect_uri_override.clone()),
            ],
            oauth2_downgrades(settings),
        ),
        // A spec's addresses written out in its steps; addresses computed by
        // its templates are checked when it is opened (`spec::check`).
        KindSettings::Spec(settings) => {
            let mut addresses: Vec<(&str, Option<String>)> =
                settings.literal_urls().into_iter().map(|(role, url)| (role, Some(url))).collect();
            addresses.push(("redirect page", settings.redirect_uri_override.clone()));
            addresses_exposure(&addresses, Vec::new())
        }
        KindSettings::OAuth1(settings) => {
            let mut downgrades = Vec::new();
            if settings.signature_method == crate::model::SignatureMethod::Plaintext {
                downgrades.push(
                    "It signs with PLAINTEXT: the consumer secret and token secret travel with every request, protected \
                     only by https."
                        .to_owned(),
                );
            }
            addresses_exposure(
                &[
                    ("request token", settings.request_token_url.clone()),
                    ("sign-in page", settings.authorize_url.clone()),
                    ("access token", settings.access_token_url.clone()),
                    ("user info", settings.info_url.clone()),
                    ("revoke", settings.revoke_url.clone()),
                ],
                downgrades,
            )
        }
    }
}

fn addresses_exposure(addresses: &[(&str, Option<String>)], downgrades: Vec<String>) -> Exposure {
    let mut exposure = Exposure::default();
    // Per site: its hosts and what goes there, in order of first mention.
    let mut roles: Vec<(String, Vec<&str>)> = Vec::new();
    let mut plain_http: Vec<String> = Vec::new();
    for (role, address) in addresses {
        let role = *role;
        let Some(url) = address.as_deref().map(str::trim).filter(|a| !a.is_empty()).and_then(|a| url::Url::parse(a).ok())
        else {
            continue;
        };
        let Some(host) = host_of(&url) else { continue };
        if !exposure.hosts.contains(&host) {
            exposure.hosts.push(host.clone());
        }
        if url.scheme() == "http" && !plain_http.contains(&host) {
            plain_http.push(host.clone());
        }
        let site = site_of(&url);
        if !exposure.sites.contains(&site) {
            exposure.sites.push(site);
        }
        match roles.iter_mut().find(|(h, _)| *h == host) {
            Some((_, list)) => list.push(role),
            None => roles.push((host, vec![role])),
        }
    }
    if exposure.sites.len() > 1 {
        let places: Vec<String> = roles.iter().map(|(host, list)| format!("{} at {host}", list_in_words(list))).collect();
        exposure.warnings.push(format!(
            "Its addresses are on {} different sites: {}. Your sign-in, the client secret you enter and its tokens go \
             to each of them.",
            exposure.sites.len(),
            places.join("; ")
        ));
    }
    exposure.downgraded = !downgrades.is_empty();
    exposure.needs_confirmation = exposure.sites.len() > 1 || exposure.downgraded;
    exposure.warnings.extend(downgrades);
    if !plain_http.is_empty() {
        exposure.warnings.push(format!(
            "It uses plain http with {}: any program or user on this computer that listens there receives what is \
             sent.",
            list_in_words(&plain_http)
        ));
    }
    exposure
}

/// What in an OAuth 2.0 connection's settings weakens its sign-in.
fn oauth2_downgrades(spec: &OAuth2Settings) -> Vec<String> {
    let mut downgrades = Vec::new();
    match (spec.flow, spec.pkce) {
        (Flow::Implicit, _) => downgrades.push(
            "It uses the implicit flow, which RFC 9700 says not to use: the access token comes back in the browser's \
             address, where browser history and extensions can read it."
                .to_owned(),
        ),
        (Flow::AuthorizationCode, Pkce::Off) => downgrades.push(
            "PKCE is off: a sign-in code intercepted on its way back to Latch could be exchanged for tokens. Latch \
             turns PKCE (S256) on unless a provider cannot use it."
                .to_owned(),
        ),
        (Flow::AuthorizationCode, Pkce::Plain) => downgrades.push(
            "PKCE is 'plain' instead of S256: the verifier travels in the sign-in address, so whoever sees that \
             address can exchange an intercepted sign-in code."
                .to_owned(),
        ),
        _ => {}
    }
    if let Some(issuer) = spec.issuer.as_deref().map(str::trim).filter(|i| !i.is_empty()) {
        if spec.flow.uses_browser() && !spec.require_iss && !provider_omits_iss(issuer) {
            downgrades.push(format!(
                "Sign-in responses that do not name their issuer ('iss') are accepted, although the connection's \
                 issuer is {issuer}: the protection against a response from another server (RFC 9207) is off."
            ));
        }
    }
    downgrades
}

/// Latch's preset for this issuer leaves `require_iss` off: the provider
/// does not send `iss`, and turning it on would break its sign-in.
fn provider_omits_iss(issuer: &str) -> bool {
    static ISSUERS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let issuers = ISSUERS.get_or_init(|| {
        presets::all()
            .into_iter()
            .filter(|p| !p.settings.require_iss)
            .filter_map(|p| p.settings.issuer.map(|i| i.trim_end_matches('/').to_owned()))
            .collect()
    });
    issuers.iter().any(|i| i == issuer.trim_end_matches('/'))
}

/// `host`, or `host:port` when the URL names a port other than its scheme's.
fn host_of(url: &url::Url) -> Option<String> {
    let host = url.host_str().filter(|h| !h.is_empty())?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// The site an address belongs to: its registrable domain as
/// [`hosts::registrable_domain`] approximates it without the public suffix
/// list — the host's last two labels (`accounts.google.com` →
/// `google.com`), or the last three when the second-to-last is a common
/// second-level label of a two-letter country domain
/// (`login.example.co.uk` → `example.co.uk`); an IP address is a site of
/// its own, and so is `localhost`. On a loopback address each port is a
/// site of its own too, since any user of the computer may listen on any
/// free port. It errs towards more sites, which only asks the user more
/// often; it can also err the other way: `a.github.io` and `b.github.io`
/// count as one site (`github.io`), like two names under a country domain
/// whose second-level label is not in the list.
pub fn site_of(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    let site = hosts::registrable_domain(host);
    match url.port_or_known_default() {
        Some(port) if validate::is_loopback_host(url) => format!("{site}:{port}"),
        _ => site,
    }
}

/// The sentence a front end asks the user to agree to, naming the hosts.
pub fn trust_sentence(hosts: &[String]) -> String {
    format!("I trust {} with this connection's sign-in and tokens", list_in_words(hosts))
}

/// Free names for "keep both": `name (2)`, `name (3)`, …, never one already
/// taken (here or in the file) nor one handed out before. Names are compared
/// ignoring ASCII case, as SQLite's NOCASE does.
///
/// Linear overall: the taken names go into one set, and the search for each
/// name goes on from where the last search for the same name stopped, so
/// every taken `name (n)` is stepped over at most once.
pub struct FreeNames {
    taken: HashSet<String>,
    next: HashMap<String, u64>,
}

impl FreeNames {
    pub fn new<S: AsRef<str>>(taken: impl IntoIterator<Item = S>) -> FreeNames {
        FreeNames { taken: taken.into_iter().map(|n| n.as_ref().to_ascii_lowercase()).collect(), next: HashMap::new() }
    }

    pub fn is_taken(&self, name: &str) -> bool {
        self.taken.contains(&name.to_ascii_lowercase())
    }

    /// The first free `name (n)`, from then on taken.
    pub fn suggest(&mut self, name: &str) -> String {
        let key = name.to_ascii_lowercase();
        let mut n = self.next.get(&key).copied().unwrap_or(2);
        loop {
            let candidate = format!("{name} ({n})");
            n += 1;
            if self.taken.insert(candidate.to_ascii_lowercase()) {
                self.next.insert(key, n);
                return candidate;
            }
        }
    }
}

/// What importing `file` would do, given the names taken here.
pub fn preview<S: AsRef<str>>(file: &ExportFile, names_here: impl IntoIterator<Item = S>) -> Vec<ImportCandidate> {
    let here: HashSet<String> = names_here.into_iter().map(|n| n.as_ref().to_ascii_lowercase()).collect();
    let mut free = FreeNames::new(here.iter().chain(file.connections.iter().map(|d| &d.name)));
    file.connections
        .iter()
        .map(|draft| {
            let mut settings = draft.settings.clone();
            settings.normalize();
            let exposure = exposure(&settings);
            let name_taken = here.contains(&draft.name.to_ascii_lowercase());
            ImportCandidate {
                name: draft.name.clone(),
                provider_host: settings.provider_host(),
                name_taken,
                suggested_name: if name_taken { free.suggest(&draft.name) } else { draft.name.clone() },
                hosts: exposure.hosts,
                warnings: exposure.warnings,
                needs_confirmation: exposure.needs_confirmation,
            }
        })
        .collect()
}

/// The settings of `connections` as an export file.
pub fn export_file(connections: Vec<Connection>, now: DateTime<Utc>) -> ExportFile {
    ExportFile { latch_export: EXPORT_VERSION, exported_at: now, connections: connections.iter().map(Connection::draft).collect() }
}

/// A checked import: each connection to add, with the one here it replaces.
#[derive(Debug)]
pub struct ImportPlan {
    pub add: Vec<(Draft, Option<Connection>)>,
    pub skipped: Vec<String>,
}

/// Checks a whole file against the rules, the names taken here (`existing`
/// finds a connection by name, ignoring case) and the user's answers: a
/// choice for each taken name, and trust in each connection that needs it
/// (see [`exposure`]). Nothing is planned unless everything holds. Linear
/// in the file: one `existing` call per connection (two for "keep both").
pub fn plan(
    file: ExportFile,
    answers: &ImportAnswers,
    existing: impl Fn(&str) -> Result<Option<Connection>>,
) -> Result<ImportPlan> {
    let mut choices: HashMap<String, &NameConflict> = HashMap::new();
    for (name, choice) in &answers.conflicts {
        choices.entry(name.to_ascii_lowercase()).or_insert(choice);
    }
    let accepted_names: HashSet<String> = match &answers.accepted {
        Accepted::Names(names) => names.iter().map(|n| n.to_ascii_lowercase()).collect(),
        Accepted::None | Accepted::All => HashSet::new(),
    };
    let accepted = |name: &str| match &answers.accepted {
        Accepted::None => false,
        Accepted::Names(_) => accepted_names.contains(&name.to_ascii_lowercase()),
        Accepted::All => true,
    };
    let mut problems = Vec::new();
    let mut skipped = Vec::new();
    let mut add: Vec<(Draft, Option<Connection>)> = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    for (index, mut draft) in file.connections.into_iter().enumerate() {
        let label = connection_label(index, Some(&draft.name));
        let file_name = draft.name.clone();
        let mut replaces = None;
        if let Some(found) = existing(&draft.name)? {
            match choices.get(&draft.name.to_ascii_lowercase()).copied().or(answers.otherwise.as_ref()) {
                None => problems.push(FieldError {
                    field: "name",
                    message: format!(
                        "{label}: a connection with this name already exists here. Rename or remove it first, then \
                         import again."
                    ),
                }),
                Some(NameConflict::Skip) => {
                    skipped.push(draft.name);
                    continue;
                }
                Some(NameConflict::Replace) => replaces = Some(found),
                Some(NameConflict::KeepBoth { name }) => {
                    draft.name = name.trim().to_owned();
                    if existing(&draft.name)?.is_some() {
                        problems.push(FieldError {
                            field: "name",
                            message: format!("{label}: the new name '{}' is taken here too. Choose another.", draft.name),
                        });
                    }
                }
            }
        }
        draft.settings.normalize();
        if let Err(message) = validate::check_name(&draft.name) {
            problems.push(FieldError { field: "name", message: format!("{label}: {message}") });
        }
        // The secret is not in the file; judge the rest as if it will be given.
        for error in validate::settings(&draft.settings, draft.settings.expects_client_secret()) {
            problems.push(FieldError { field: error.field, message: format!("{label}: {}", error.message) });
        }
        let exposure = exposure(&draft.settings);
        if exposure.needs_confirmation && !accepted(&file_name) {
            problems.push(FieldError {
                field: "hosts",
                message: format!(
                    "{label}: it sends your sign-in and tokens to {}{}. It is imported only once you confirm that you \
                     trust {}.",
                    list_in_words(&exposure.hosts),
                    if exposure.downgraded {
                        ", and weakens the sign-in (see the preview's warnings)"
                    } else {
                        ""
                    },
                    if exposure.hosts.len() == 1 { "it" } else { "them" }
                ),
            });
        }
        if !names.insert(draft.name.to_ascii_lowercase()) {
            problems.push(FieldError {
                field: "name",
                message: format!("{label}: the file lists the name '{}' twice.", draft.name),
            });
        }
        add.push((draft, replaces));
    }
    if !problems.is_empty() {
        problems.push(FieldError { field: "import", message: "Nothing was imported.".into() });
        return Err(Error::invalid(problems));
    }
    Ok(ImportPlan { add, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientAuth, Flow, KindSettings, OAuth2Settings};

    #[test]
    fn a_newer_version_is_refused_before_anything_else_is_read() {
        let err = parse(br#"{"latch_export": 2, "connections": "whatever"}"#).unwrap_err();
        assert!(err.message.contains("written by a newer Latch (export version 2)"), "{}", err.message);
        assert!(err.message.ends_with("Nothing was imported."));
    }

    #[test]
    fn malformed_files_are_refused_with_the_reason() {
        assert!(parse(b"{not json").unwrap_err().message.starts_with("The file is not valid JSON"));
        assert!(parse(b"{}").unwrap_err().message.contains("not a Latch export"));
        let err = parse(br#"{"latch_export":1,"exported_at":"2026-01-01T00:00:00Z","connections":[{"flow":"implicit"}]}"#)
            .unwrap_err();
        assert!(err.message.starts_with("Connection 1 in the file could not be read (missing field `name`"), "{}", err.message);
        let err = parse(br#"{"latch_export":1,"exported_at":"2026-01-01T00:00:00Z","connections":[{"name":"A","flow":"password"}]}"#)
            .unwrap_err();
        assert!(err.message.starts_with("Connection 1 ('A') in the file could not be read (unknown variant"), "{}", err.message);
    }

    #[test]
    fn a_file_from_before_kinds_existed_reads_as_oauth2_connections() {
        let file = parse(
            br#"{"latch_export":1,"exported_at":"2026-01-01T00:00:00Z",
                 "connections":[{"name":"Old","flow":"client_credentials","pkce":"off","token_url":"https://a.example/t",
                                 "client_id":"c","client_auth":"body"}]}"#,
        )
        .unwrap();
        let settings = file.connections[0].settings.oauth2().unwrap();
        assert_eq!(settings.flow, Flow::ClientCredentials);
        assert_eq!(settings.token_name, "Bearer", "what the file leaves out keeps the default");
    }

    #[test]
    fn a_draft_round_trips_through_the_format() {
        let mut settings = OAuth2Settings::new(Flow::AuthorizationCode, "c1");
        settings.scopes = vec!["repo".into()];
        settings.client_auth = ClientAuth::Basic;
        let draft = Draft { name: "GitHub".into(), settings: KindSettings::OAuth2(settings) };
        let file = ExportFile { latch_export: 1, exported_at: Utc::now(), connections: vec![draft.clone()] };
        let parsed = parse(&serde_json::to_vec(&file).unwrap()).unwrap();
        assert_eq!(parsed.connections, vec![draft]);
    }

    fn oauth2(flow: Flow, urls: &[(&str, &str)]) -> OAuth2Settings {
        let mut settings = OAuth2Settings::new(flow, "client");
        for (field, url) in urls {
            let url = Some(url.to_string());
            match *field {
                "authorize" => settings.authorize_url = url,
                "token" => settings.token_url = url,
                "refresh" => settings.refresh_url = url,
                "revoke" => settings.revoke_url = url,
                "info" => settings.info_url = url,
                "device" => settings.device_url = url,
                "issuer" => settings.issuer = url,
                "redirect" => settings.redirect_uri_override = url,
                other => panic!("no address '{other}'"),
            }
        }
        settings
    }

    fn exposure_of(settings: OAuth2Settings) -> Exposure {
        exposure(&KindSettings::OAuth2(settings))
    }

    #[test]
    fn every_address_counts_and_two_sites_need_confirmation() {
        let settings = oauth2(
            Flow::AuthorizationCode,
            &[
                ("authorize", "https://accounts.google.com/o/oauth2/v2/auth"),
                ("token", "https://evil.example/token"),
                ("refresh", "https://evil.example/refresh"),
                ("revoke", "https://revoke.evil.example/r"),
                ("info", "http://127.0.0.1:8123/me"),
                ("device", "https://device.example.org/d"),
                ("issuer", "https://accounts.google.com"),
                ("redirect", "https://hosted.example.net/cb"),
            ],
        );
        let seen = exposure_of(settings);
        assert_eq!(
            seen.hosts,
            [
                "accounts.google.com",
                "evil.example",
                "revoke.evil.example",
                "127.0.0.1:8123",
                "device.example.org",
                "hosted.example.net"
            ]
        );
        assert_eq!(seen.sites, ["google.com", "evil.example", "127.0.0.1:8123", "example.org", "example.net"]);
        assert!(seen.needs_confirmation);
        assert!(!seen.downgraded);
        assert!(seen.warnings[0].starts_with("Its addresses are on 5 different sites: sign-in page and issuer at accounts.google.com; token and refresh at evil.example;"), "{:?}", seen.warnings);
        assert!(seen.warnings.iter().any(|w| w.contains("plain http with 127.0.0.1:8123")), "{:?}", seen.warnings);
    }

    #[test]
    fn one_site_with_the_defaults_needs_no_confirmation() {
        let github = oauth2(
            Flow::AuthorizationCode,
            &[
                ("authorize", "https://github.com/login/oauth/authorize"),
                ("token", "https://github.com/login/oauth/access_token"),
                ("info", "https://api.github.com/user"),
            ],
        );
        let seen = exposure_of(github);
        assert_eq!(seen.hosts, ["github.com", "api.github.com"]);
        assert_eq!(seen.sites, ["github.com"]);
        assert!(seen.warnings.is_empty(), "{:?}", seen.warnings);
        assert!(!seen.needs_confirmation);

        // A local development server: one site (its port), said to be plain http.
        let local = oauth2(
            Flow::AuthorizationCode,
            &[("authorize", "http://127.0.0.1:4000/auth"), ("token", "http://127.0.0.1:4000/token")],
        );
        let seen = exposure_of(local);
        assert_eq!(seen.hosts, ["127.0.0.1:4000"]);
        assert!(!seen.needs_confirmation);
        assert_eq!(seen.warnings.len(), 1);
        assert!(seen.warnings[0].contains("plain http with 127.0.0.1:4000"), "{:?}", seen.warnings);

        // The same address on another port is someone else's, possibly.
        let two_ports = oauth2(
            Flow::AuthorizationCode,
            &[("authorize", "http://127.0.0.1:4000/auth"), ("token", "http://127.0.0.1:4001/token")],
        );
        assert!(exposure_of(two_ports).needs_confirmation);
    }

    #[test]
    fn each_downgrade_is_said_and_needs_confirmation() {
        let base = || {
            oauth2(Flow::AuthorizationCode, &[("authorize", "https://id.example.com/a"), ("token", "https://id.example.com/t")])
        };
        let cases: Vec<(OAuth2Settings, &str)> = vec![
            (OAuth2Settings { pkce: Pkce::Off, ..base() }, "PKCE is off"),
            (OAuth2Settings { pkce: Pkce::Plain, ..base() }, "PKCE is 'plain' instead of S256"),
            (OAuth2Settings { flow: Flow::Implicit, pkce: Pkce::Off, token_url: None, ..base() }, "implicit flow"),
            (
                OAuth2Settings { issuer: Some("https://id.example.com".into()), require_iss: false, ..base() },
                "do not name their issuer ('iss') are accepted, although the connection's issuer is https://id.example.com",
            ),
        ];
        for (settings, expected) in cases {
            let seen = exposure_of(settings);
            assert!(seen.downgraded && seen.needs_confirmation, "{expected}");
            assert_eq!(seen.hosts, ["id.example.com"]);
            assert!(seen.warnings.iter().any(|w| w.contains(expected)), "{expected}: {:?}", seen.warnings);
        }
        // With iss required, or for a provider whose preset does not require it (GitLab does not send it), no warning.
        let required = OAuth2Settings { issuer: Some("https://id.example.com".into()), require_iss: true, ..base() };
        assert!(!exposure_of(required).needs_confirmation);
        let gitlab = oauth2(
            Flow::AuthorizationCode,
            &[("authorize", "https://gitlab.com/oauth/authorize"), ("token", "https://gitlab.com/oauth/token"), ("issuer", "https://gitlab.com")],
        );
        assert!(!exposure_of(gitlab).needs_confirmation);
        // PKCE does not apply to the flows without a browser.
        let service = oauth2(Flow::ClientCredentials, &[("token", "https://id.example.com/t")]);
        assert!(!exposure_of(service).needs_confirmation);
    }

    #[test]
    fn sites_approximate_registrable_domains() {
        let site = |url: &str| site_of(&url::Url::parse(url).unwrap());
        assert_eq!(site("https://accounts.google.com/x"), "google.com");
        assert_eq!(site("https://a.b.c.example.com"), "example.com");
        assert_eq!(site("https://example.com."), "example.com");
        assert_eq!(site("https://login.example.co.uk/x"), "example.co.uk");
        assert_eq!(site("https://id.example.com.au"), "example.com.au");
        assert_eq!(site("https://example.co"), "example.co", "a two-label host is its own site");
        assert_eq!(site("https://www.example.io"), "example.io", "io is no second-level label");
        assert_eq!(site("https://intranet/x"), "intranet");
        assert_eq!(site("https://10.0.0.5:8443/x"), "10.0.0.5", "an address is a site; a port counts on loopback only");
        assert_eq!(site("http://127.0.0.1:8080/x"), "127.0.0.1:8080");
        assert_eq!(site("http://[::1]:9000/x"), "[::1]:9000");
        assert_eq!(site("http://localhost:3000/x"), "localhost:3000");
        assert_eq!(site("https://LOCALHOST/x"), "localhost:443");
    }

    fn file_with(connections: Vec<Draft>) -> ExportFile {
        ExportFile { latch_export: 1, exported_at: Utc::now(), connections }
    }

    fn two_sites(name: &str) -> Draft {
        let mut settings =
            oauth2(Flow::AuthorizationCode, &[("authorize", "https://accounts.google.com/a"), ("token", "https://evil.example/t")]);
        settings.client_auth = ClientAuth::None;
        Draft { name: name.into(), settings: KindSettings::OAuth2(settings) }
    }

    #[test]
    fn the_plan_refuses_a_connection_that_needs_confirmation_unless_it_was_accepted() {
        let none = |_: &str| Ok(None);
        let err = plan(file_with(vec![two_sites("Mail")]), &ImportAnswers::default(), none).unwrap_err();
        let message = &err.fields[0].message;
        assert_eq!(err.fields[0].field, "hosts");
        assert!(message.starts_with("Connection 1 ('Mail'): it sends your sign-in and tokens to accounts.google.com and evil.example."), "{message}");
        assert!(err.message.ends_with("Nothing was imported."));

        for accepted in [Accepted::All, Accepted::Names(vec!["mail".into()])] {
            let answers = ImportAnswers { accepted, ..ImportAnswers::default() };
            assert_eq!(plan(file_with(vec![two_sites("Mail")]), &answers, none).unwrap().add.len(), 1);
        }
        let other = ImportAnswers { accepted: Accepted::Names(vec!["Other".into()]), ..ImportAnswers::default() };
        assert!(plan(file_with(vec![two_sites("Mail")]), &other, none).is_err());

        // "Replace" for every taken name.
        let here = Connection::new(two_sites("Mail"), false, Utc::now());
        let replace = ImportAnswers { otherwise: Some(NameConflict::Replace), accepted: Accepted::All, ..ImportAnswers::default() };
        let planned = plan(file_with(vec![two_sites("Mail")]), &replace, |_| Ok(Some(here.clone()))).unwrap();
        assert_eq!(planned.add[0].1.as_ref().map(|c| &c.id), Some(&here.id));

        // One that is skipped is not imported, so it needs no trust.
        let here = Connection::new(two_sites("Mail"), false, Utc::now());
        let skip = ImportAnswers { conflicts: vec![("Mail".into(), NameConflict::Skip)], ..ImportAnswers::default() };
        let planned = plan(file_with(vec![two_sites("Mail")]), &skip, |_| Ok(Some(here.clone()))).unwrap();
        assert_eq!(planned.skipped, ["Mail"]);
    }

    #[test]
    fn the_preview_lists_hosts_and_warnings_and_suggests_free_names() {
        let file = file_with(vec![two_sites("Mail"), two_sites("Mail (2)"), two_sites("mail (3)"), two_sites("Other")]);
        let preview = preview(&file, ["MAIL", "Mail (4)"]);
        assert_eq!(preview[0].hosts, ["accounts.google.com", "evil.example"]);
        assert!(preview[0].needs_confirmation);
        assert!(preview[0].warnings[0].contains("2 different sites"), "{:?}", preview[0].warnings);
        assert!(preview[0].name_taken);
        assert_eq!(preview[0].suggested_name, "Mail (5)", "free here and in the file");
        assert!(!preview[1].name_taken);
        assert_eq!(preview[1].suggested_name, "Mail (2)");
        assert_eq!(trust_sentence(&preview[0].hosts), "I trust accounts.google.com and evil.example with this connection's sign-in and tokens");
    }

    #[test]
    fn free_names_are_never_handed_out_twice_and_ignore_ascii_case() {
        let mut free = FreeNames::new(["A", "a (2)", "A (3)", "b"]);
        assert!(free.is_taken("a") && free.is_taken("A (2)") && !free.is_taken("a (4)"));
        assert_eq!(free.suggest("a"), "a (4)");
        assert_eq!(free.suggest("A"), "A (5)");
        assert_eq!(free.suggest("b"), "b (2)");
        assert!(free.is_taken("B (2)"));
    }

    #[test]
    fn free_names_step_over_each_taken_name_once() {
        // 20,000 taken "x (n)" and 20,000 suggestions for "x": quadratic work would be 4·10⁸ steps.
        let taken: Vec<String> = std::iter::once("x".to_string()).chain((2..20_002).map(|n| format!("x ({n})"))).collect();
        let mut free = FreeNames::new(&taken);
        for k in 0..20_000 {
            assert_eq!(free.suggest("x"), format!("x ({})", 20_002 + k));
        }
    }

    #[test]
    fn a_file_over_the_size_cap_is_refused_before_it_is_read() {
        let big = vec![b' '; MAX_FILE_BYTES as usize + 1];
        let err = parse(&big).unwrap_err();
        assert!(err.message.starts_with("The file is larger than 10 MiB, the most Latch imports"), "{}", err.message);
        assert!(err.message.ends_with("Nothing was imported."));
        let err = read_limited(std::io::repeat(b'{'), "standard input").unwrap_err();
        assert!(err.message.contains("larger than 10 MiB"), "{}", err.message);
        assert_eq!(read_limited(&b"{}"[..], "x").unwrap(), b"{}");
        // At the cap exactly it is read (and then judged as JSON).
        assert!(parse(&vec![b' '; MAX_FILE_BYTES as usize]).unwrap_err().message.contains("not valid JSON"));
    }

    #[test]
    fn the_digest_is_the_sha256_of_the_bytes() {
        assert_eq!(digest(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn a_value_that_does_not_fit_is_named_by_its_field_not_quoted() {
        let read = |connection: Value| {
            let file = serde_json::json!({"latch_export": 1, "exported_at": "2026-01-01T00:00:00Z", "connections": [connection]});
            parse(file.to_string().as_bytes()).unwrap_err().message
        };
        let message = read(serde_json::json!({"name": "A", "redirect_port": "tok_0123456789abcdefghijklmn"}));
        assert_eq!(
            message,
            "Connection 1 ('A') in the file could not be read (invalid type: a string in 'redirect_port', expected u16). \
             Nothing was imported."
        );
        let message = read(serde_json::json!({"name": "A", "pkce": "tok_0123456789abcdefghijklmn"}));
        assert!(message.starts_with("Connection 1 ('A') in the file could not be read (unknown variant in 'pkce', expected one of `s256`"), "{message}");
        let message = read(serde_json::json!({"name": "A", "redirect_port": 700000}));
        assert!(message.contains("(invalid value: a number in 'redirect_port', expected u16)"), "{message}");
        let message = read(serde_json::json!({"name": "A", "custom_headers": [{"key": 5, "value": "tok_0123456789abcdefghijklmn"}]}));
        assert!(message.contains("(invalid type: a number in 'custom_headers', expected a string)"), "{message}");
        let message = read(serde_json::json!({"name": "A", "kind": "tok_0123456789abcdefghijklmn"}));
        assert!(message.contains("(unknown variant in 'kind', expected one of `oauth2`, `oauth1`, `spec`)"), "{message}");
        // A name Latch would refuse is not echoed either (control characters reach terminals).
        let message = read(serde_json::json!({"name": "A\u{1b}[2J", "pkce": "x"}));
        assert!(message.starts_with("Connection 1 in the file"), "{message}");
        let err = parse(br#"{"latch_export": "tok_0123456789abcdefghijklmn"}"#).unwrap_err();
        assert_eq!(err.message, "The file's 'latch_export' version is not a version number. Nothing was imported.");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        const TOKEN: &str = "tok_Zq8Xv2Lm4Np6Rt0Yw3Kb7Hc5";

        /// Any JSON value, with the planted token among its strings.
        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
                ".{0,12}".prop_map(Value::from),
                prop_oneof![
                    Just(TOKEN.to_owned()),
                    Just(format!("https://{TOKEN}.example/x")),
                    Just(format!("Bearer {TOKEN}")),
                    Just(format!("x\"{TOKEN}`, expected")),
                ]
                .prop_map(Value::from),
            ];
            leaf.prop_recursive(4, 32, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                    // Any key but "name": a connection's name is quoted in messages on purpose.
                    prop::collection::btree_map("[a-z_]{1,8}".prop_filter("not name", |k| k != "name"), inner, 0..6)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// A field of a connection entry (known ones mostly), or of the file.
        fn field() -> impl Strategy<Value = String> {
            let known: Vec<String> = known_fields().into_iter().filter(|f| f != "name").collect();
            prop_oneof![4 => prop::sample::select(known), 1 => "[a-z_]{1,10}"]
        }

        fn valid_connection() -> Value {
            serde_json::json!({
                "name": "Service", "flow": "client_credentials", "pkce": "off",
                "token_url": "https://example.com/token", "client_id": "c", "client_auth": "body"
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            #[test]
            fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
                let _ = parse(&bytes);
            }

            #[test]
            fn arbitrary_json_never_panics_and_never_echoes_a_value(value in json()) {
                match parse(value.to_string().as_bytes()) {
                    Ok(_) => {}
                    Err(err) => prop_assert!(!err.message.contains(TOKEN), "{}", err.message),
                }
            }

            #[test]
            fn a_token_planted_in_any_field_never_appears_in_an_error(
                planted in prop::collection::vec((field(), json()), 1..4),
                at_top in any::<bool>(),
                version in prop_oneof![Just(Value::from(1)), json()],
                exported_at in prop_oneof![Just(Value::from("2026-01-01T00:00:00Z")), json()],
            ) {
                let mut connection = valid_connection();
                for (field, value) in &planted {
                    connection[field.as_str()] = value.clone();
                }
                let mut file = serde_json::json!({
                    "latch_export": version, "exported_at": exported_at, "connections": [valid_connection(), connection]
                });
                if at_top {
                    file["connections"] = planted[0].1.clone();
                }
                if let Err(err) = parse(file.to_string().as_bytes()) {
                    prop_assert!(!err.message.contains(TOKEN), "{}", err.message);
                    prop_assert!(err.message.ends_with("Nothing was imported."), "{}", err.message);
                }
            }
        }
    }
}
