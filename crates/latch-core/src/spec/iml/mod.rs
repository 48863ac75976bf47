//! IML, the template language of Make.com custom-app specs: every JSON
//! string in a spec may hold `{{expression}}`s.
//!
//! - [`Template::parse`] reads one string (and checks function names and
//!   argument counts); [`Template::eval`] evaluates it against a
//!   [`Context`]. A string that is exactly one `{{…}}` keeps the value's
//!   type (an object, a date, a number, undefined); mixed text joins the
//!   parts' string forms ([`Value::display`]).
//! - [`eval_json`] templates a whole JSON tree; [`check_json`] lists every
//!   parse error in one, with its JSON path.
//! - Evaluation is bounded by [`Limits`]: going past one is an
//!   [`ImlError`], never a hang, an abort or a panic.
//!
//! docs/iml.md lists what is supported and the decisions taken where
//! Make's documentation is silent or contradicts itself (loose equality,
//! dates compared as instants, `base64url`, `;` separators).

mod dates;
mod eval;
mod functions;
mod ops;
mod parser;
mod value;

#[cfg(test)]
mod tests;

use std::fmt;

pub use eval::{Context, Limits, Vars};
pub use parser::MAX_PARSE_DEPTH;
pub use value::{Map, Value};

use eval::Eval;
use parser::{Expr, Part};

/// A template that could not be parsed or evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImlError {
    /// Byte offset in the template text where the problem is.
    pub position: usize,
    /// A plain sentence saying what is wrong.
    pub message: String,
}

impl ImlError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> ImlError {
        ImlError { position, message: message.into() }
    }
}

impl fmt::Display for ImlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.position)
    }
}

impl std::error::Error for ImlError {}

/// One parsed JSON string value.
#[derive(Clone, Debug)]
pub struct Template {
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    /// No `{{`: the text as it is.
    Literal(String),
    /// Exactly `{{expr}}`: the expression's value, type and all.
    Single(Expr),
    /// Text and expressions: the string forms joined.
    Mixed(Vec<Part>),
}

impl Template {
    /// Parses a JSON string value. Fails on a syntax error, an unknown
    /// function or a wrong number of arguments, with the byte position.
    pub fn parse(text: &str) -> Result<Template, ImlError> {
        if !text.contains("{{") {
            return Ok(Template { kind: Kind::Literal(text.to_owned()) });
        }
        let mut parts = parser::parse_template(text)?;
        if let [Part::Expr(_)] = parts.as_slice() {
            if let Some(Part::Expr(e)) = parts.pop() {
                return Ok(Template { kind: Kind::Single(e) });
            }
        }
        Ok(Template { kind: Kind::Mixed(parts) })
    }

    /// Evaluates the template with its own step budget.
    pub fn eval(&self, ctx: &Context<'_>) -> Result<Value, ImlError> {
        self.eval_with(&mut Eval::new(ctx))
    }

    fn eval_with(&self, ev: &mut Eval<'_, '_>) -> Result<Value, ImlError> {
        match &self.kind {
            Kind::Literal(s) => Ok(Value::String(s.clone())),
            Kind::Single(e) => ev.eval(e),
            Kind::Mixed(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Text(t) => out.push_str(t),
                        Part::Expr(e) => {
                            let pos = e.pos();
                            ev.eval(e)?.write_display(&mut out);
                            if out.len() > ev.limits().max_string_bytes {
                                return Err(ImlError::new(
                                    pos,
                                    format!("A string grew past {} bytes (Limits::max_string_bytes).", ev.limits().max_string_bytes),
                                ));
                            }
                        }
                    }
                }
                Ok(Value::String(out))
            }
        }
    }

    /// True when the string holds no `{{…}}`.
    pub fn is_literal(&self) -> bool {
        matches!(self.kind, Kind::Literal(_))
    }

    /// The root variable names the template reads (`temp`, `body`, …), in
    /// order of first use. Keywords (`now`, `uuid`, …) are not variables.
    pub fn roots(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.kind {
            Kind::Literal(_) => {}
            Kind::Single(e) => parser::collect_roots(e, &mut out),
            Kind::Mixed(parts) => {
                for part in parts {
                    if let Part::Expr(e) = part {
                        parser::collect_roots(e, &mut out);
                    }
                }
            }
        }
        out
    }
}

/// The key that spreads its value's keys into the enclosing object:
/// `{"{{...}}": "{{toCollection(parameters.qs, 'key', 'value')}}"}`.
/// `"{{…}}"` (with the ellipsis character) is read the same way.
pub const SPREAD_KEY: &str = "{{...}}";

fn is_spread_key(key: &str) -> bool {
    key == SPREAD_KEY || key == "{{\u{2026}}}"
}

/// Templates a JSON tree, with one step budget for the whole tree:
///
/// - every string is a [`Template`];
/// - an object key [`SPREAD_KEY`] spreads its value (an object) into the
///   enclosing object; any other key holding `{{…}}` is templated too —
///   its text becomes the key, or, if it evaluates to an object, that
///   object's keys are spread in (and the entry's value is not used);
/// - undefined values drop out of objects and arrays.
///
/// An error's message starts with the JSON path of the string that failed
/// (`token.response.data.expires: …`); its position is within that string.
pub fn eval_json(value: &serde_json::Value, ctx: &Context<'_>) -> Result<Value, ImlError> {
    let mut ev = Eval::new(ctx);
    let mut path = String::new();
    eval_node(&mut ev, value, &mut path, 0)
}

fn at_path(path: &str, e: ImlError) -> ImlError {
    if path.is_empty() {
        e
    } else {
        ImlError { position: e.position, message: format!("{path}: {}", e.message) }
    }
}

fn eval_node(ev: &mut Eval<'_, '_>, value: &serde_json::Value, path: &mut String, depth: usize) -> Result<Value, ImlError> {
    if depth > ev.limits().max_depth {
        return Err(at_path(
            path,
            ImlError::new(0, format!("The JSON nests deeper than {} levels (Limits::max_depth).", ev.limits().max_depth)),
        ));
    }
    match value {
        serde_json::Value::String(s) => {
            let template = Template::parse(s).map_err(|e| at_path(path, e))?;
            template.eval_with(ev).map_err(|e| at_path(path, e))
        }
        serde_json::Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let len = path.len();
            for (i, item) in items.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                let v = eval_node(ev, item, path, depth + 1);
                path.truncate(len);
                match v? {
                    Value::Undefined => {}
                    v => out.push(v),
                }
            }
            let out = Value::Array(out);
            ev.check_size(&out, 0).map_err(|e| at_path(path, e))?;
            Ok(out)
        }
        serde_json::Value::Object(map) => {
            let mut out = Map::new();
            let len = path.len();
            for (key, item) in map {
                push_key(path, key);
                let result = eval_entry(ev, key, item, path, depth, &mut out);
                path.truncate(len);
                result?;
            }
            Ok(Value::Object(out))
        }
        other => {
            ev.charge(1, 0).map_err(|e| at_path(path, e))?;
            Ok(Value::from_json(other))
        }
    }
}

fn eval_entry(
    ev: &mut Eval<'_, '_>,
    key: &str,
    item: &serde_json::Value,
    path: &mut String,
    depth: usize,
    out: &mut Map,
) -> Result<(), ImlError> {
    let spread = |out: &mut Map, v: Value, path: &str| -> Result<(), ImlError> {
        match v {
            Value::Object(m) => {
                out.extend(m.into_iter().filter(|(_, v)| *v != Value::Undefined));
                Ok(())
            }
            Value::Undefined | Value::Null => Ok(()),
            other => {
                Err(at_path(path, ImlError::new(0, format!("Only an object can be spread into an object, not {}.", other.type_name()))))
            }
        }
    };
    if is_spread_key(key) {
        let v = eval_node(ev, item, path, depth + 1)?;
        return spread(out, v, path);
    }
    let name = if key.contains("{{") {
        let template = Template::parse(key).map_err(|e| at_path(path, e))?;
        match template.eval_with(ev).map_err(|e| at_path(path, e))? {
            Value::Object(m) => return spread(out, Value::Object(m), path),
            Value::Undefined => return Ok(()),
            other => other.display(),
        }
    } else {
        key.to_owned()
    };
    match eval_node(ev, item, path, depth + 1)? {
        Value::Undefined => {}
        v => {
            out.insert(name, v);
        }
    }
    Ok(())
}

fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

/// Parses every template in a JSON tree (keys included) without
/// evaluating anything: each syntax error, unknown function or wrong
/// argument count, with the JSON path of its string
/// (`token.response.data.expires`, `preauthorize[0].url`) and the byte
/// position in it.
pub fn check_json(value: &serde_json::Value) -> Vec<(String, ImlError)> {
    let mut found = Vec::new();
    let mut path = String::new();
    check_node(value, &mut path, &mut found, 0);
    found
}

/// How deeply `check_json` descends (serde_json itself reads no deeper
/// than 128 levels).
const MAX_CHECK_DEPTH: usize = 128;

fn check_node(value: &serde_json::Value, path: &mut String, found: &mut Vec<(String, ImlError)>, depth: usize) {
    if depth > MAX_CHECK_DEPTH {
        found.push((path.clone(), ImlError::new(0, format!("The JSON nests deeper than {MAX_CHECK_DEPTH} levels."))));
        return;
    }
    match value {
        serde_json::Value::String(s) => {
            if let Err(e) = Template::parse(s) {
                found.push((path.clone(), e));
            }
        }
        serde_json::Value::Array(items) => {
            let len = path.len();
            for (i, item) in items.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                check_node(item, path, found, depth + 1);
                path.truncate(len);
            }
        }
        serde_json::Value::Object(map) => {
            let len = path.len();
            for (key, item) in map {
                push_key(path, key);
                if !is_spread_key(key) {
                    if let Err(e) = Template::parse(key) {
                        found.push((path.clone(), ImlError::new(e.position, format!("In the key: {}", e.message))));
                    }
                }
                check_node(item, path, found, depth + 1);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// The names of every function IML knows, for documentation and editors.
pub fn function_names() -> impl Iterator<Item = &'static str> {
    functions::TABLE.iter().map(|(name, ..)| *name)
}
