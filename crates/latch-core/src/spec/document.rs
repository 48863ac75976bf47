//! A Make-style connection spec as files hold it: the communication (the
//! request specs of each step), the parameters the user fills in, the
//! default scope and the scope list, the app's common data, and the base
//! that places the credential in API requests.
//!
//! Three ways to hold one, all read into the same [`SpecDocument`]:
//! - Latch's own single file (`*.latch-spec.json`): `{ "name",
//!   "communication", "parameters", "defaultScope", "scopeList", "common",
//!   "base" }`;
//! - Make's local-development layout: a connection folder with
//!   `communication.imljson`, `parameters.imljson`, `common.imljson`,
//!   `scope.imljson` (default scope) and `scopes.imljson` (scope list), and
//!   the app's `base.imljson` beside `connections/` or in `app/`;
//! - the VS Code extension's files: `<name>.oauth-communication.iml.json`,
//!   `.params.iml.json`, `.common.json`, `.scope-list.iml.json`,
//!   `.default-scope.iml.json` (and `base.iml.json`), JSON with comments.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
pub use crate::model::SpecDocument;

/// The largest spec Latch reads: real ones are a few kilobytes.
pub const MAX_SPEC_BYTES: u64 = 1024 * 1024;

/// Reads a spec from a path: a `*.latch-spec.json` (or any single JSON
/// file holding the parts), or a folder in either Make layout.
pub fn load(path: &Path) -> Result<SpecDocument> {
    let meta = std::fs::metadata(path)
        .map_err(|err| invalid(format!("Latch could not open '{}': {err}.", path.display())))?;
    if meta.is_dir() {
        load_folder(path)
    } else {
        parse_single(&read(path)?, &path.display().to_string())
    }
}

/// Reads a spec from text (pasted JSON in Latch's single-file form).
pub fn parse_single(text: &str, origin: &str) -> Result<SpecDocument> {
    let value = parse_jsonc(text, origin)?;
    let object = value.as_object().ok_or_else(|| invalid(format!("{origin}: a spec is a JSON object.")))?;
    if !object.contains_key("communication") {
        return Err(invalid(format!("{origin}: the spec has no 'communication' (the steps Latch runs to sign in).")));
    }
    serde_json::from_value(value).map_err(|err| invalid(format!("{origin}: {}", plain_serde(&err))))
}

fn load_folder(dir: &Path) -> Result<SpecDocument> {
    // Make's layout: this folder is a connection folder, or an app folder
    // with exactly one connection under `connections/`.
    if dir.join("communication.imljson").is_file() {
        return load_make_connection(dir, base_beside(dir));
    }
    let connections = dir.join("connections");
    if connections.is_dir() {
        let found: Vec<PathBuf> = entries(&connections)?.into_iter().filter(|p| p.join("communication.imljson").is_file()).collect();
        return match found.as_slice() {
            [one] => load_make_connection(one, base_beside(one)),
            [] => Err(invalid(format!("{}: no connection folder with a communication.imljson was found.", connections.display()))),
            many => Err(invalid(format!(
                "{} holds {} connections ({}); choose the folder of the one you want.",
                connections.display(),
                many.len(),
                many.iter().filter_map(|p| p.file_name()?.to_str()).collect::<Vec<_>>().join(", ")
            ))),
        };
    }
    // The VS Code extension's files.
    let communication: Vec<PathBuf> = entries(dir)?
        .into_iter()
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".oauth-communication.iml.json")))
        .collect();
    match communication.as_slice() {
        [one] => {
            let file = one.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let name = file.trim_end_matches(".oauth-communication.iml.json");
            load_vscode(dir, name)
        }
        [] => Err(invalid(format!(
            "{}: Latch found no spec here. Choose a connection folder with communication.imljson, an app folder with \
             connections/, a folder with NAME.oauth-communication.iml.json, or a *.latch-spec.json file.",
            dir.display()
        ))),
        _ => Err(invalid(format!("{}: more than one *.oauth-communication.iml.json; choose one spec.", dir.display()))),
    }
}

/// `base.imljson` of the app a connection folder belongs to, if any.
fn base_beside(connection: &Path) -> Option<PathBuf> {
    let app = connection.parent()?.parent()?;
    [app.join("base.imljson"), app.join("app").join("base.imljson")].into_iter().find(|p| p.is_file())
}

fn load_make_connection(dir: &Path, base: Option<PathBuf>) -> Result<SpecDocument> {
    let part = |file: &str| optional(&dir.join(file));
    let name = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned);
    assemble(
        name,
        part("communication.imljson")?,
        part("parameters.imljson")?,
        part("scope.imljson")?,
        part("scopes.imljson")?,
        part("common.imljson")?,
        base.map(|b| optional(&b)).transpose()?.flatten(),
    )
}

fn load_vscode(dir: &Path, name: &str) -> Result<SpecDocument> {
    let part = |suffix: &str| optional(&dir.join(format!("{name}{suffix}")));
    assemble(
        Some(name.to_owned()),
        part(".oauth-communication.iml.json")?,
        part(".params.iml.json")?,
        part(".default-scope.iml.json")?,
        part(".scope-list.iml.json")?,
        part(".common.json")?,
        optional(&dir.join("base.iml.json"))?,
    )
}

fn assemble(
    name: Option<String>,
    communication: Option<Value>,
    parameters: Option<Value>,
    default_scope: Option<Value>,
    scope_list: Option<Value>,
    common: Option<Value>,
    base: Option<Value>,
) -> Result<SpecDocument> {
    let communication = communication.ok_or_else(|| invalid("The spec has no communication file.".to_owned()))?;
    let mut object = Map::new();
    object.insert("name".into(), name.map(Value::from).unwrap_or(Value::Null));
    object.insert("communication".into(), communication);
    object.insert("parameters".into(), parameters.unwrap_or(Value::Array(Vec::new())));
    object.insert("defaultScope".into(), default_scope.unwrap_or(Value::Array(Vec::new())));
    object.insert("scopeList".into(), scope_list.unwrap_or(Value::Object(Map::new())));
    object.insert("common".into(), common.unwrap_or(Value::Object(Map::new())));
    object.insert("base".into(), base.unwrap_or(Value::Null));
    serde_json::from_value(Value::Object(object)).map_err(|err| invalid(format!("The spec could not be read: {}", plain_serde(&err))))
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|err| invalid(format!("Latch could not read the folder '{}': {err}.", dir.display())))?
        .flatten()
        .map(|e| e.path())
        .collect();
    found.sort();
    Ok(found)
}

fn optional(path: &Path) -> Result<Option<Value>> {
    if !path.is_file() {
        return Ok(None);
    }
    parse_jsonc(&read(path)?, &path.display().to_string()).map(Some)
}

fn read(path: &Path) -> Result<String> {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_SPEC_BYTES {
        return Err(invalid(format!(
            "'{}' is {} KiB; a spec is at most {} KiB.",
            path.display(),
            size / 1024,
            MAX_SPEC_BYTES / 1024
        )));
    }
    std::fs::read_to_string(path).map_err(|err| invalid(format!("Latch could not read '{}': {err}.", path.display())))
}

/// JSON that may carry `//` and `/* */` comments and trailing commas (the
/// VS Code extension writes JSONC), with the line and column of an error.
pub fn parse_jsonc(text: &str, origin: &str) -> Result<Value> {
    let plain = strip_jsonc(text);
    serde_json::from_str(&plain).map_err(|err| {
        invalid(format!("{origin}: not valid JSON at line {}, column {} ({}).", err.line(), err.column(), plain_serde(&err)))
    })
}

/// Comments become spaces (so positions stay put); a comma before `}` or
/// `]` is dropped. Strings are left alone.
fn strip_jsonc(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            out.push(c as char);
            if c == b'\\' && i + 1 < bytes.len() {
                out.push(bytes[i + 1] as char);
                i += 2;
                continue;
            }
            if c == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        match (c, bytes.get(i + 1)) {
            (b'"', _) => {
                in_string = true;
                out.push('"');
                i += 1;
            }
            (b'/', Some(b'/')) => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    out.push(' ');
                    i += 1;
                }
            }
            (b'/', Some(b'*')) => {
                out.push_str("  ");
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    out.push(if bytes[i] == b'\n' { '\n' } else { ' ' });
                    i += 1;
                }
                out.push_str("  ");
                i += 2;
            }
            (b',', _) => {
                let next = text[i + 1..].trim_start().chars().next();
                out.push(if matches!(next, Some('}') | Some(']')) { ' ' } else { ',' });
                i += 1;
            }
            _ => {
                // Multi-byte characters are copied whole.
                let ch = text[i..].chars().next().expect("inside the text");
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

/// serde's message without any value it quotes from the file (a spec's
/// strings may hold secrets).
fn plain_serde(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.find('"') {
        Some(at) => format!("{}…", text[..at].trim_end()),
        None => text,
    }
}

fn invalid(message: String) -> Error {
    Error::validation("spec", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, file: &str, text: &str) {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    const COMMUNICATION: &str = r#"{
        // The steps
        "authorize": { "url": "https://id.example.com/auth", "qs": { "client_id": "{{common.clientId}}" } },
        "token": { "url": "https://id.example.com/token", "method": "POST", },
    }"#;

    #[test]
    fn both_make_layouts_and_the_single_file_read_the_same_spec() {
        let make = tempfile::tempdir().unwrap();
        write(make.path(), "connections/academy/communication.imljson", COMMUNICATION);
        write(make.path(), "connections/academy/parameters.imljson", r#"[{"name":"tenant","type":"text"}]"#);
        write(make.path(), "connections/academy/scope.imljson", r#"["read"]"#);
        write(make.path(), "connections/academy/scopes.imljson", r#"{"read":"Read data","write":"Write data"}"#);
        write(make.path(), "connections/academy/common.imljson", r#"{"clientId":"","clientSecret":""}"#);
        write(make.path(), "base.imljson", r#"{"baseUrl":"https://api.example.com"}"#);
        let vscode = tempfile::tempdir().unwrap();
        write(vscode.path(), "academy.oauth-communication.iml.json", COMMUNICATION);
        write(vscode.path(), "academy.params.iml.json", r#"[{"name":"tenant","type":"text"}]"#);
        write(vscode.path(), "academy.default-scope.iml.json", r#"["read"]"#);
        write(vscode.path(), "academy.scope-list.iml.json", r#"{"read":"Read data","write":"Write data"}"#);
        write(vscode.path(), "academy.common.json", r#"{"clientId":"","clientSecret":""}"#);
        write(vscode.path(), "base.iml.json", r#"{"baseUrl":"https://api.example.com"}"#);

        let from_app = load(make.path()).unwrap();
        let from_connection = load(&make.path().join("connections/academy")).unwrap();
        let from_vscode = load(vscode.path()).unwrap();
        assert_eq!(from_app, from_connection);
        assert_eq!(from_app, from_vscode);
        assert_eq!(from_app.name.as_deref(), Some("academy"));
        assert_eq!(from_app.default_scope, ["read"]);
        assert_eq!(from_app.scope_list.len(), 2);
        assert!(from_app.base.is_some());

        let single = serde_json::to_string(&from_app).unwrap();
        let file = make.path().join("academy.latch-spec.json");
        std::fs::write(&file, single).unwrap();
        assert_eq!(load(&file).unwrap(), from_app);
    }

    #[test]
    fn comments_and_trailing_commas_are_read_and_errors_give_line_and_column() {
        let value = parse_jsonc("{ /* a */ \"a\": \"//not a comment\", // b\n \"b\": [1, 2,], }", "x").unwrap();
        assert_eq!(value["a"], "//not a comment");
        assert_eq!(value["b"], serde_json::json!([1, 2]));
        let err = parse_jsonc("{\n  \"a\": 1\n  \"b\": 2\n}", "spec.json").unwrap_err();
        assert!(err.message.contains("spec.json: not valid JSON at line 3, column 3"), "{}", err.message);
    }

    #[test]
    fn a_spec_without_communication_or_with_two_connections_says_so() {
        assert!(parse_single(r#"{"name":"x"}"#, "pasted").unwrap_err().message.contains("has no 'communication'"));
        let app = tempfile::tempdir().unwrap();
        write(app.path(), "connections/a/communication.imljson", "{}");
        write(app.path(), "connections/b/communication.imljson", "{}");
        let err = load(app.path()).unwrap_err();
        assert!(err.message.contains("holds 2 connections (a, b)"), "{}", err.message);
        let empty = tempfile::tempdir().unwrap();
        assert!(load(empty.path()).unwrap_err().message.contains("found no spec here"));
    }

    #[test]
    fn common_values_are_taken_out_and_placeholders_are_not_shipped() {
        let spec = parse_single(
            r#"{"communication":{},"common":{"clientId":"abc","clientSecret":"<client secret>","region":""}}"#,
            "x",
        )
        .unwrap();
        let shipped = spec.shipped_common();
        assert_eq!(shipped.len(), 1);
        assert_eq!(shipped["clientId"], "abc");
        let stored = spec.without_common_values();
        assert!(stored.common.values().all(Value::is_null));
        assert_eq!(stored.common.len(), 3);
    }

    #[test]
    fn an_error_never_quotes_a_value_from_the_file() {
        let err = parse_single(r#"{"communication":{},"defaultScope":"super-secret-value"}"#, "x").unwrap_err();
        assert!(!err.message.contains("super-secret-value"), "{}", err.message);
    }
}
