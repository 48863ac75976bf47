//! The functions: their names and arity (checked when a template is
//! parsed) and what they do. Text functions pass an undefined or null
//! argument through, so that an unfilled parameter stays unfilled.

use std::collections::HashSet;
use std::sync::LazyLock;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use regex::{Regex, RegexBuilder};
use sha2::Digest as _;

use super::dates;
use super::eval::{one_based, random_u64, Eval};
use super::ops::{round_15, strict_eq};
use super::parser::Expr;
use super::value::{Map, Value};
use super::ImlError;

const MANY: usize = usize::MAX;

macro_rules! functions {
    ($($variant:ident = $name:literal ($min:expr, $max:expr)),* $(,)?) => {
        /// A known function.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Func { $($variant),* }

        /// Every function: name, function, fewest and most arguments.
        pub(crate) const TABLE: &[(&str, Func, usize, usize)] = &[$(($name, Func::$variant, $min, $max)),*];
    };
}

functions! {
    // General
    If = "if" (2, 3), IfEmpty = "ifempty" (2, 2), Switch = "switch" (2, MANY), Get = "get" (2, 2),
    Omit = "omit" (1, MANY), Pick = "pick" (1, MANY),
    // Text
    Ascii = "ascii" (1, 2), Base64 = "base64" (1, 1), Base64Url = "base64url" (1, 1), Capitalize = "capitalize" (1, 1),
    Contains = "contains" (2, 3), DecodeUrl = "decodeURL" (1, 1), EncodeUrl = "encodeURL" (1, 1),
    EscapeHtml = "escapeHTML" (1, 1), EscapeMarkdown = "escapeMarkdown" (1, 1), IndexOf = "indexOf" (2, 3),
    Length = "length" (1, 1), Lower = "lower" (1, 1), Upper = "upper" (1, 1), Md5 = "md5" (1, 1),
    Replace = "replace" (3, 3), Split = "split" (2, 3), StartCase = "startcase" (1, 1), StripHtml = "stripHTML" (1, 1),
    Substring = "substring" (2, 3), ToBinary = "toBinary" (1, 2), ToString = "toString" (1, 1), Trim = "trim" (1, 1),
    Sha1 = "sha1" (1, 4), Sha256 = "sha256" (1, 4), Sha512 = "sha512" (1, 4),
    // JSON
    CreateJson = "createJSON" (1, 1), ParseJson = "parseJSON" (1, 1),
    // Arrays
    Add = "add" (1, MANY), Deduplicate = "deduplicate" (1, 2), Distinct = "distinct" (1, 2), First = "first" (1, 1),
    Last = "last" (1, 1), Flatten = "flatten" (1, 2), Join = "join" (1, 2), Keys = "keys" (1, 1), Map = "map" (2, 4),
    Merge = "merge" (1, MANY), Remove = "remove" (1, MANY), Reverse = "reverse" (1, 1), Shuffle = "shuffle" (1, 1),
    Slice = "slice" (2, 3), Sort = "sort" (1, 3), ToArray = "toArray" (1, 1), ToCollection = "toCollection" (3, 3),
    IsArray = "isArray" (1, 1),
    // Dates
    FormatDate = "formatDate" (1, 3), ParseDate = "parseDate" (1, 3),
    AddSeconds = "addSeconds" (2, 2), AddMinutes = "addMinutes" (2, 2), AddHours = "addHours" (2, 2),
    AddDays = "addDays" (2, 2), AddMonths = "addMonths" (2, 2), AddYears = "addYears" (2, 2),
    SetSecond = "setSecond" (2, 2), SetMinute = "setMinute" (2, 2), SetHour = "setHour" (2, 2),
    SetDate = "setDate" (2, 2), SetDay = "setDay" (2, 2), SetMonth = "setMonth" (2, 2), SetYear = "setYear" (2, 2),
    DateDiff = "dateDiff" (3, 3),
    // Math
    Abs = "abs" (1, 1), Average = "average" (1, MANY), Ceil = "ceil" (1, 1), Floor = "floor" (1, 1),
    FormatNumber = "formatNumber" (2, 4), Max = "max" (1, MANY), Median = "median" (1, MANY), Min = "min" (1, MANY),
    ParseNumber = "parseNumber" (1, 2), Round = "round" (1, 1), StdevP = "stdevP" (1, MANY), StdevS = "stdevS" (1, MANY),
    Sum = "sum" (1, MANY), Trunc = "trunc" (1, 2),
}

pub(crate) fn lookup(name: &str) -> Option<Func> {
    TABLE.iter().find(|(n, ..)| *n == name).map(|(_, f, ..)| *f)
}

impl Func {
    pub(crate) fn name(self) -> &'static str {
        TABLE.iter().find(|(_, f, ..)| *f == self).map_or("?", |(n, ..)| n)
    }

    pub(crate) fn arity(self) -> (usize, usize) {
        TABLE.iter().find(|(_, f, ..)| *f == self).map_or((0, MANY), |(_, _, min, max)| (*min, *max))
    }
}

/// Calls a function: `if`, `ifempty` and `switch` evaluate only the
/// arguments they need; the rest get every argument's value.
pub(crate) fn call(ev: &mut Eval<'_, '_>, func: Func, pos: usize, args: &[Expr]) -> Result<Value, ImlError> {
    match func {
        Func::If => {
            if ev.eval(&args[0])?.truthy() {
                ev.eval(&args[1])
            } else {
                args.get(2).map_or(Ok(Value::Undefined), |e| ev.eval(e))
            }
        }
        Func::IfEmpty => {
            let first = ev.eval(&args[0])?;
            if first.is_empty() {
                ev.eval(&args[1])
            } else {
                Ok(first)
            }
        }
        Func::Switch => {
            let key = ev.eval(&args[0])?.display();
            let mut cases = &args[1..];
            while let [candidate, result, rest @ ..] = cases {
                if ev.eval(candidate)?.display() == key {
                    return ev.eval(result);
                }
                cases = rest;
            }
            match cases {
                [otherwise] => ev.eval(otherwise),
                _ => Ok(Value::Undefined),
            }
        }
        _ => {
            let mut values = Vec::with_capacity(args.len());
            for a in args {
                values.push(ev.eval(a)?);
            }
            let out = apply(ev, func, values).map_err(|m| ImlError::new(pos, format!("{}(): {m}", func.name())))?;
            ev.charge(out.weight(), pos)?;
            ev.check_size(&out, pos)?;
            Ok(out)
        }
    }
}

type R = Result<Value, String>;

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Undefined)
}

fn nullish(v: &Value) -> bool {
    matches!(v, Value::Undefined | Value::Null)
}

/// The text of an argument, or `None` for undefined and null.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Undefined | Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.display()),
    }
}

/// An optional text argument: `None` when left out, undefined, null or "".
fn opt_text(v: &Value) -> Option<String> {
    text(v).filter(|s| !s.is_empty())
}

fn array(v: Value) -> Result<Vec<Value>, String> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Undefined | Value::Null => Ok(Vec::new()),
        other => Err(format!("expected an array, got {}.", other.type_name())),
    }
}

/// `Number()` truncated to an integer, for counts and positions; NaN is 0.
fn int(v: &Value) -> i64 {
    let n = v.to_number();
    if n.is_nan() {
        0
    } else {
        n.trunc().clamp(-9e15, 9e15) as i64
    }
}

fn too_long(max: usize) -> String {
    format!("the result grew past {max} bytes (Limits::max_string_bytes).")
}

fn apply(ev: &mut Eval<'_, '_>, func: Func, mut args: Vec<Value>) -> R {
    let max_string = ev.limits().max_string_bytes;
    let max_array = ev.limits().max_array_len;
    let max_depth = ev.limits().max_depth;
    let first = std::mem::replace(&mut args[0], Value::Undefined);
    let pass = |v: Value| -> R { Ok(v) };
    macro_rules! text_or_pass {
        ($v:expr) => {
            match text(&$v) {
                Some(t) => t,
                None => return pass($v),
            }
        };
    }
    match func {
        Func::If | Func::IfEmpty | Func::Switch => unreachable_lazy(),
        Func::Get => Ok(get_path(&first, arg(&args, 1)).cloned().unwrap_or(Value::Undefined)),
        Func::Omit | Func::Pick => {
            let Value::Object(map) = first else {
                return if nullish(&first) { Ok(first) } else { Err(format!("expected an object, got {}.", first.type_name())) };
            };
            let mut names = Vec::new();
            for k in &args[1..] {
                match k {
                    Value::Array(items) => names.extend(items.iter().map(Value::display)),
                    other => names.push(other.display()),
                }
            }
            let keep = func == Func::Pick;
            Ok(Value::Object(map.into_iter().filter(|(k, _)| names.contains(k) == keep).collect()))
        }

        // ------------------------------------------------------------------ text
        Func::Ascii => {
            let t = text_or_pass!(first);
            let strip = arg(&args, 1).truthy();
            Ok(t.chars()
                .filter_map(|c| {
                    if c.is_ascii() {
                        Some(c)
                    } else if strip {
                        fold_diacritic(c)
                    } else {
                        None
                    }
                })
                .collect::<String>()
                .into())
        }
        Func::Base64 => Ok(base64::engine::general_purpose::STANDARD.encode(text_or_pass!(first)).into()),
        Func::Base64Url => Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text_or_pass!(first)).into()),
        Func::Capitalize => {
            let t = text_or_pass!(first);
            let mut chars = t.chars();
            Ok(match chars.next() {
                Some(c) => c.to_uppercase().chain(chars).collect::<String>(),
                None => t,
            }
            .into())
        }
        Func::Contains => {
            let needle = arg(&args, 1);
            let ci = arg(&args, 2).truthy();
            Ok(Value::Bool(match &first {
                Value::Array(items) => items.iter().any(|item| {
                    if ci {
                        item.display().to_lowercase() == needle.display().to_lowercase()
                    } else {
                        strict_eq(item, needle)
                    }
                }),
                Value::Undefined | Value::Null => false,
                other => {
                    let (hay, n) = (other.display(), needle.display());
                    if ci {
                        hay.to_lowercase().contains(&n.to_lowercase())
                    } else {
                        hay.contains(&n)
                    }
                }
            }))
        }
        Func::DecodeUrl => decode_uri_component(&text_or_pass!(first)).map(Value::String),
        Func::EncodeUrl => Ok(encode_uri_component(&text_or_pass!(first)).into()),
        Func::EscapeHtml => {
            let t = text_or_pass!(first);
            let mut out = String::with_capacity(t.len());
            for c in t.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    '\'' => out.push_str("&#39;"),
                    c => out.push(c),
                }
            }
            Ok(out.into())
        }
        Func::EscapeMarkdown => {
            let t = text_or_pass!(first);
            let mut out = String::with_capacity(t.len());
            for c in t.chars() {
                if "\\`*_{}[]()#+-.!|<>".contains(c) {
                    out.push('\\');
                }
                out.push(c);
            }
            Ok(out.into())
        }
        Func::IndexOf => {
            let needle = arg(&args, 1);
            let from = int(arg(&args, 2)).max(0) as usize;
            Ok(Value::Number(match &first {
                Value::Array(items) => items.iter().skip(from).position(|v| strict_eq(v, needle)).map_or(-1.0, |i| (i + from) as f64),
                Value::Undefined | Value::Null => -1.0,
                other => {
                    let (hay, n) = (other.display(), needle.display());
                    let start = hay.char_indices().nth(from).map_or(hay.len(), |(b, _)| b);
                    match hay[start..].find(&n) {
                        Some(b) => hay[..start + b].chars().count() as f64,
                        None => -1.0,
                    }
                }
            }))
        }
        Func::Length => Ok(Value::Number(match &first {
            Value::Undefined | Value::Null => 0.0,
            Value::String(s) => s.chars().count() as f64,
            Value::Array(a) => a.len() as f64,
            Value::Object(m) => m.len() as f64,
            other => other.display().chars().count() as f64,
        })),
        Func::Lower => Ok(text_or_pass!(first).to_lowercase().into()),
        Func::Upper => Ok(text_or_pass!(first).to_uppercase().into()),
        Func::Md5 => Ok(hex(&md5::Md5::digest(text_or_pass!(first).as_bytes())).into()),
        Func::Replace => {
            let t = text_or_pass!(first);
            let pattern = arg(&args, 1).display();
            let replacement = arg(&args, 2).display();
            replace(&t, &pattern, &replacement, max_string, ev).map(Value::String)
        }
        Func::Split => {
            let t = text_or_pass!(first);
            let sep = arg(&args, 1).display();
            let keep_empty = arg(&args, 2).truthy();
            let count = if sep.is_empty() { t.chars().count() } else { t.matches(sep.as_str()).count() + 1 };
            if count > max_array {
                return Err(format!("the text splits into more than {max_array} pieces (Limits::max_array_len)."));
            }
            let pieces: Vec<Value> = if sep.is_empty() {
                t.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                t.split(sep.as_str()).map(str::trim).filter(|p| keep_empty || !p.is_empty()).map(|p| Value::String(p.to_owned())).collect()
            };
            Ok(Value::Array(pieces))
        }
        Func::StartCase => {
            let t = text_or_pass!(first);
            let mut out = String::with_capacity(t.len());
            let mut at_start = true;
            for c in t.chars() {
                if c.is_whitespace() {
                    at_start = true;
                    out.push(c);
                } else if at_start {
                    out.extend(c.to_uppercase());
                    at_start = false;
                } else {
                    out.extend(c.to_lowercase());
                }
            }
            Ok(out.into())
        }
        Func::StripHtml => Ok(strip_html(&text_or_pass!(first)).into()),
        Func::Substring => {
            let t = text_or_pass!(first);
            let chars: Vec<char> = t.chars().collect();
            let len = chars.len() as i64;
            let start = int(arg(&args, 1)).clamp(0, len);
            let end = if nullish(arg(&args, 2)) { len } else { int(arg(&args, 2)).clamp(0, len) };
            let (a, b) = if start <= end { (start, end) } else { (end, start) };
            Ok(chars[a as usize..b as usize].iter().collect::<String>().into())
        }
        Func::ToBinary => {
            let t = text_or_pass!(first);
            let encoding = opt_text(arg(&args, 1)).unwrap_or_else(|| "utf8".into());
            let bytes = decode_bytes(&t, &encoding)?;
            String::from_utf8(bytes).map(Value::String).map_err(|_| {
                "the decoded bytes are not UTF-8 text, and Latch's IML has no binary values; hash or encode the text instead.".to_owned()
            })
        }
        Func::ToString => Ok(match first {
            Value::Undefined => Value::Undefined,
            other => Value::String(other.display()),
        }),
        Func::Trim => Ok(text_or_pass!(first).trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}').to_owned().into()),
        Func::Sha1 | Func::Sha256 | Func::Sha512 => {
            let t = text_or_pass!(first);
            let encoding = opt_text(arg(&args, 1)).unwrap_or_else(|| "hex".into());
            let key = match text(arg(&args, 2)) {
                Some(k) => Some(decode_bytes(&k, &opt_text(arg(&args, 3)).unwrap_or_else(|| "text".into()))?),
                None => None,
            };
            let digest = digest(func, t.as_bytes(), key.as_deref())?;
            encode_bytes(&digest, &encoding).map(Value::String)
        }

        // ------------------------------------------------------------------ JSON
        Func::CreateJson => match first.to_json() {
            None => Ok(Value::Undefined),
            Some(json) => {
                let s = json.to_string();
                if s.len() > max_string {
                    return Err(too_long(max_string));
                }
                Ok(Value::String(s))
            }
        },
        Func::ParseJson => match first {
            Value::String(s) => {
                let json: serde_json::Value = serde_json::from_str(&s).map_err(|e| format!("the text is not valid JSON ({e})."))?;
                let v = Value::from_json(&json);
                if v.depth() > max_depth {
                    return Err(format!("the JSON nests deeper than {max_depth} levels (Limits::max_depth)."));
                }
                if let Value::Array(a) = &v {
                    if a.len() > max_array {
                        return Err(format!("the array has more than {max_array} items (Limits::max_array_len)."));
                    }
                }
                Ok(v)
            }
            other => Ok(other),
        },

        // ------------------------------------------------------------------ arrays
        Func::Add => {
            let mut items = array(first)?;
            if items.len() + args.len() - 1 > max_array {
                return Err(format!("the array would have more than {max_array} items (Limits::max_array_len)."));
            }
            items.extend(args.drain(1..));
            Ok(Value::Array(items))
        }
        Func::Deduplicate | Func::Distinct => {
            let items = array(first)?;
            let key = opt_text(arg(&args, 1));
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for item in items {
                let probe = match &key {
                    Some(k) => get_path(&item, &Value::String(k.clone())).cloned().unwrap_or(Value::Undefined),
                    None => item.clone(),
                };
                let id = match &probe {
                    Value::Array(_) | Value::Object(_) => format!("\u{0}{}", probe.to_json().map(|j| j.to_string()).unwrap_or_default()),
                    other => other.display(),
                };
                if seen.insert(id) {
                    out.push(item);
                }
            }
            Ok(Value::Array(out))
        }
        Func::First => Ok(match first {
            Value::Array(a) => a.into_iter().next().unwrap_or(Value::Undefined),
            _ => Value::Undefined,
        }),
        Func::Last => Ok(match first {
            Value::Array(mut a) => a.pop().unwrap_or(Value::Undefined),
            _ => Value::Undefined,
        }),
        Func::Flatten => {
            let items = array(first)?;
            let depth = if nullish(arg(&args, 1)) { 1 } else { int(arg(&args, 1)).clamp(0, max_depth as i64) as usize };
            let mut out = Vec::new();
            flatten_into(items, depth, &mut out, max_array)?;
            Ok(Value::Array(out))
        }
        Func::Join => {
            let items = match first {
                Value::Array(a) => a,
                Value::Undefined | Value::Null => return Ok(first),
                Value::String(s) => return Ok(Value::String(s)),
                other => return Err(format!("expected an array, got {}.", other.type_name())),
            };
            let sep = if matches!(arg(&args, 1), Value::Undefined) { ",".to_owned() } else { arg(&args, 1).display() };
            let mut out = String::new();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&sep);
                }
                item.write_display(&mut out);
                if out.len() > max_string {
                    return Err(too_long(max_string));
                }
            }
            Ok(out.into())
        }
        Func::Keys => Ok(match first {
            Value::Object(m) => Value::Array(m.into_keys().map(Value::String).collect()),
            Value::Array(a) => Value::Array((0..a.len()).map(|i| Value::String(i.to_string())).collect()),
            Value::Undefined | Value::Null => first,
            _ => Value::Array(Vec::new()),
        }),
        Func::Map => {
            let items = array(first)?;
            let key = arg(&args, 1).clone();
            let filter_key = opt_text(arg(&args, 2));
            let allowed: Option<Vec<String>> = match arg(&args, 3) {
                Value::Undefined | Value::Null => None,
                Value::Array(vals) => Some(vals.iter().map(Value::display).collect()),
                other => Some(other.display().split(',').map(|s| s.trim().to_owned()).collect()),
            };
            let mut out = Vec::new();
            for item in &items {
                if let (Some(fk), Some(allowed)) = (&filter_key, &allowed) {
                    let v = get_path(item, &Value::String(fk.clone())).map(Value::display).unwrap_or_default();
                    if !allowed.contains(&v) {
                        continue;
                    }
                }
                if let Some(v) = get_path(item, &key) {
                    if *v != Value::Undefined {
                        out.push(v.clone());
                    }
                }
            }
            Ok(Value::Array(out))
        }
        Func::Merge => {
            args[0] = first;
            let objects = args.iter().find(|v| !nullish(v)).is_some_and(|v| matches!(v, Value::Object(_)));
            if objects {
                let mut out = Map::new();
                for v in args {
                    if let Value::Object(m) = v {
                        out.extend(m);
                    }
                }
                return Ok(Value::Object(out));
            }
            let total: usize = args.iter().map(|v| if let Value::Array(a) = v { a.len() } else { 0 }).sum();
            if total > max_array {
                return Err(format!("the array would have more than {max_array} items (Limits::max_array_len)."));
            }
            let mut out = Vec::with_capacity(total);
            for v in args {
                if let Value::Array(a) = v {
                    out.extend(a);
                }
            }
            Ok(Value::Array(out))
        }
        Func::Remove => {
            let items = array(first)?;
            let drop = &args[1..];
            Ok(Value::Array(items.into_iter().filter(|v| !drop.iter().any(|d| strict_eq(v, d))).collect()))
        }
        Func::Reverse => match first {
            Value::Array(mut a) => {
                a.reverse();
                Ok(Value::Array(a))
            }
            Value::Undefined | Value::Null => Ok(first),
            other => Err(format!("expected an array, got {}.", other.type_name())),
        },
        Func::Shuffle => {
            let mut items = array(first)?;
            let mut state = random_u64() | 1;
            for i in (1..items.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                items.swap(i, (state % (i as u64 + 1)) as usize);
            }
            Ok(Value::Array(items))
        }
        Func::Slice => {
            let relative = |v: &Value, len: i64, default: i64| -> usize {
                if nullish(v) {
                    return default as usize;
                }
                let n = int(v);
                (if n < 0 { (len + n).max(0) } else { n.min(len) }) as usize
            };
            match first {
                Value::Array(a) => {
                    let len = a.len() as i64;
                    let (start, end) = (relative(arg(&args, 1), len, 0), relative(arg(&args, 2), len, len));
                    Ok(Value::Array(if start < end { a[start..end].to_vec() } else { Vec::new() }))
                }
                Value::Undefined | Value::Null => Ok(first),
                other => {
                    let chars: Vec<char> = other.display().chars().collect();
                    let len = chars.len() as i64;
                    let (start, end) = (relative(arg(&args, 1), len, 0), relative(arg(&args, 2), len, len));
                    Ok(Value::String(if start < end { chars[start..end].iter().collect() } else { String::new() }))
                }
            }
        }
        Func::Sort => {
            let mut items = array(first)?;
            let order = opt_text(arg(&args, 1)).unwrap_or_else(|| "asc".into());
            let (desc, ci) = match order.to_lowercase().as_str() {
                "asc" => (false, false),
                "desc" => (true, false),
                "asc ci" => (false, true),
                "desc ci" => (true, true),
                _ => return Err(format!("the order must be 'asc', 'desc', 'asc ci' or 'desc ci', not '{order}'.")),
            };
            let key = opt_text(arg(&args, 2)).map(Value::String);
            ev.charge((items.len() as u64).saturating_mul(64 - (items.len() as u64).leading_zeros() as u64), 0).map_err(|e| e.message)?;
            let sort_key = |v: &Value| -> Value {
                match &key {
                    Some(k) => get_path(v, k).cloned().unwrap_or(Value::Undefined),
                    None => v.clone(),
                }
            };
            let mut keyed: Vec<(Value, Value)> = items.drain(..).map(|v| (sort_key(&v), v)).collect();
            keyed.sort_by(|(a, _), (b, _)| {
                let o = sort_order(a, b, ci);
                if desc {
                    o.reverse()
                } else {
                    o
                }
            });
            Ok(Value::Array(keyed.into_iter().map(|(_, v)| v).collect()))
        }
        Func::ToArray => match first {
            Value::Object(m) => Ok(Value::Array(
                m.into_iter()
                    .map(|(k, v)| Value::Object(Map::from_iter([("key".to_owned(), Value::String(k)), ("value".to_owned(), v)])))
                    .collect(),
            )),
            Value::Array(a) => Ok(Value::Array(
                a.into_iter()
                    .enumerate()
                    .map(|(i, v)| Value::Object(Map::from_iter([("key".to_owned(), Value::Number(i as f64)), ("value".to_owned(), v)])))
                    .collect(),
            )),
            Value::Undefined | Value::Null => Ok(first),
            other => Err(format!("expected an object, got {}.", other.type_name())),
        },
        Func::ToCollection => {
            let items = array(first)?;
            let (key_field, value_field) = (arg(&args, 1).clone(), arg(&args, 2).clone());
            let mut out = Map::new();
            for item in &items {
                let Some(k) = get_path(item, &key_field).filter(|k| !nullish(k)) else { continue };
                out.insert(k.display(), get_path(item, &value_field).cloned().unwrap_or(Value::Undefined));
            }
            Ok(Value::Object(out))
        }
        Func::IsArray => Ok(Value::Bool(matches!(first, Value::Array(_)))),

        // ------------------------------------------------------------------ dates
        Func::FormatDate
        | Func::ParseDate
        | Func::AddSeconds
        | Func::AddMinutes
        | Func::AddHours
        | Func::AddDays
        | Func::AddMonths
        | Func::AddYears
        | Func::SetSecond
        | Func::SetMinute
        | Func::SetHour
        | Func::SetDate
        | Func::SetDay
        | Func::SetMonth
        | Func::SetYear
        | Func::DateDiff => {
            args[0] = first;
            dates::apply(func, &args, ev.ctx.now, ev.ctx.timezone, max_string)
        }

        // ------------------------------------------------------------------ math
        Func::Abs | Func::Ceil | Func::Floor | Func::Round => {
            if nullish(&first) {
                return Ok(first);
            }
            let n = first.to_number();
            Ok(Value::Number(match func {
                Func::Abs => n.abs(),
                Func::Ceil => n.ceil(),
                Func::Floor => n.floor(),
                _ => js_round(n),
            }))
        }
        Func::Trunc => {
            if nullish(&first) {
                return Ok(first);
            }
            let n = first.to_number();
            let places = int(arg(&args, 1)).clamp(-20, 20) as i32;
            let factor = 10f64.powi(places);
            Ok(Value::Number(if places == 0 { n.trunc() } else { round_15((round_15(n * factor)).trunc() / factor) }))
        }
        Func::Average | Func::Max | Func::Min | Func::Median | Func::Sum | Func::StdevP | Func::StdevS => {
            args[0] = first;
            let nums = numbers(&args);
            if nums.is_empty() {
                return Ok(if func == Func::Sum { Value::Number(0.0) } else { Value::Undefined });
            }
            let n = nums.len() as f64;
            let sum: f64 = nums.iter().sum();
            let mean = sum / n;
            let var = |denominator: f64| nums.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / denominator;
            Ok(match func {
                Func::Sum => Value::Number(round_15(sum)),
                Func::Average => Value::Number(round_15(mean)),
                Func::Max => Value::Number(nums.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
                Func::Min => Value::Number(nums.iter().copied().fold(f64::INFINITY, f64::min)),
                Func::Median => {
                    let mut sorted = nums;
                    sorted.sort_by(f64::total_cmp);
                    let mid = sorted.len() / 2;
                    Value::Number(if sorted.len() % 2 == 0 { (sorted[mid - 1] + sorted[mid]) / 2.0 } else { sorted[mid] })
                }
                Func::StdevP => Value::Number(var(n).sqrt()),
                _ if nums.len() < 2 => Value::Undefined,
                _ => Value::Number(var(n - 1.0).sqrt()),
            })
        }
        Func::FormatNumber => {
            if nullish(&first) {
                return Ok(first);
            }
            let n = first.to_number();
            if !n.is_finite() {
                return Err(format!("'{}' is not a number.", first.display()));
            }
            let places = int(arg(&args, 1));
            if !(0..=100).contains(&places) {
                return Err(format!("the number of decimals must be from 0 to 100, not {places}."));
            }
            let dec_sep = if nullish(arg(&args, 2)) { ",".to_owned() } else { arg(&args, 2).display() };
            let thousands = if nullish(arg(&args, 3)) { ".".to_owned() } else { arg(&args, 3).display() };
            Ok(format_number(n, places as usize, &dec_sep, &thousands).into())
        }
        Func::ParseNumber => {
            let t = text_or_pass!(first);
            let dec_sep = opt_text(arg(&args, 1)).and_then(|s| s.chars().next()).unwrap_or('.');
            let cleaned: String = t
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '-' || *c == dec_sep || *c == 'e' || *c == 'E')
                .map(|c| if c == dec_sep { '.' } else { c })
                .collect();
            match cleaned.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(Value::Number(n)),
                _ => Err(format!("'{t}' is not a number.")),
            }
        }
    }
}

fn unreachable_lazy() -> R {
    Err("internal: lazily evaluated function reached apply.".into())
}

/// `get(value, path)`: a dotted path (`'a.b.c'`, `'items.1.name'`,
/// `'a[2].b'`) with 1-based array indexes, or a number (1-based index);
/// a key that exists as written (`'expires-in'`, `'a.b'`) wins.
pub(crate) fn get_path<'v>(v: &'v Value, path: &Value) -> Option<&'v Value> {
    match path {
        Value::Number(n) => match v {
            Value::Array(a) => one_based(a.len(), *n).map(|i| &a[i]),
            Value::Object(m) => m.get(&path.display()),
            _ => None,
        },
        Value::Undefined | Value::Null => None,
        other => {
            let p = other.display();
            if let Value::Object(m) = v {
                if let Some(found) = m.get(&p) {
                    return Some(found);
                }
            }
            let mut cur = v;
            for raw in p.split('.') {
                // `a[2][1]` → "a", "2", "1"
                let mut parts = raw.split('[');
                let head = parts.next().unwrap_or_default();
                if !head.is_empty() {
                    cur = step(cur, head)?;
                }
                for rest in parts {
                    let index = rest.strip_suffix(']')?;
                    cur = if index.is_empty() {
                        match cur {
                            Value::Array(a) => a.first()?,
                            other => other,
                        }
                    } else {
                        step(cur, index)?
                    };
                }
            }
            Some(cur)
        }
    }
}

fn step<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    match v {
        Value::Object(m) => m.get(key),
        Value::Array(a) => key.parse::<f64>().ok().and_then(|n| one_based(a.len(), n)).map(|i| &a[i]),
        _ => None,
    }
}

fn flatten_into(items: Vec<Value>, depth: usize, out: &mut Vec<Value>, max: usize) -> Result<(), String> {
    for item in items {
        match item {
            Value::Array(inner) if depth > 0 => flatten_into(inner, depth - 1, out, max)?,
            other => out.push(other),
        }
        if out.len() > max {
            return Err(format!("the array would have more than {max} items (Limits::max_array_len)."));
        }
    }
    Ok(())
}

/// A total order for `sort`: numbers, then text, dates, booleans, arrays,
/// objects, null, undefined.
fn sort_order(a: &Value, b: &Value, ci: bool) -> std::cmp::Ordering {
    let rank = |v: &Value| match v {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Date(_) => 2,
        Value::Bool(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
        Value::Null => 6,
        Value::Undefined => 7,
    };
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.total_cmp(y),
        (Value::String(x), Value::String(y)) => {
            if ci {
                x.to_lowercase().cmp(&y.to_lowercase())
            } else {
                x.cmp(y)
            }
        }
        (Value::Date(x), Value::Date(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

fn numbers(args: &[Value]) -> Vec<f64> {
    let mut out = Vec::new();
    let mut push = |v: &Value| match v {
        Value::Number(n) if !n.is_nan() => out.push(*n),
        Value::String(s) if !s.trim().is_empty() => {
            let n = super::value::parse_js_number(s);
            if !n.is_nan() {
                out.push(n);
            }
        }
        _ => {}
    };
    for a in args {
        match a {
            Value::Array(items) => items.iter().for_each(&mut push),
            other => push(other),
        }
    }
    out
}

/// JavaScript's `Math.round`: halves go up (-1.5 → -1).
fn js_round(n: f64) -> f64 {
    let f = n.floor();
    if n - f >= 0.5 {
        f + 1.0
    } else {
        f
    }
}

/// `formatNumber`: rounds half away from zero on the number's exact
/// decimal value (as JavaScript's `toFixed`), then groups the thousands.
fn format_number(n: f64, places: usize, dec_sep: &str, thousands: &str) -> String {
    // Every f64 has at most 1074 digits after the point: this is exact.
    let exact = format!("{:.1080}", n.abs());
    let (int_part, frac_part) = exact.split_once('.').unwrap_or((&exact, ""));
    let mut digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes().take(places)).map(|b| b - b'0').collect();
    if frac_part.as_bytes().get(places).is_some_and(|d| *d >= b'5') {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, 1);
                break;
            }
            i -= 1;
            if digits[i] == 9 {
                digits[i] = 0;
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let int_len = digits.len() - places;
    let int_digits: String = digits[..int_len].iter().map(|d| char::from(b'0' + d)).collect();
    let frac_digits: String = digits[int_len..].iter().map(|d| char::from(b'0' + d)).collect();
    let mut grouped = String::new();
    for (i, c) in int_digits.chars().enumerate() {
        if i > 0 && (int_len - i) % 3 == 0 {
            grouped.push_str(thousands);
        }
        grouped.push(c);
    }
    let negative = n < 0.0 && digits.iter().any(|d| *d != 0);
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&grouped);
    if places > 0 {
        out.push_str(dec_sep);
        out.push_str(&frac_digits);
    }
    out
}

// ---------------------------------------------------------------------------
// replace

/// `replace(text, search, replacement)`: a `/pattern/flags` search is a
/// regular expression (`g` all matches, `i`, `m`, `s`), and the
/// replacement may use `$1`…`$99`, `$<name>`, `$&` and `$$`; any other
/// search is plain text and every occurrence is replaced.
fn replace(t: &str, pattern: &str, replacement: &str, max: usize, ev: &mut Eval<'_, '_>) -> Result<String, String> {
    let Some((source, flags)) = regex_literal(pattern) else {
        if pattern.is_empty() {
            return Ok(t.to_owned());
        }
        let count = t.matches(pattern).count();
        if t.len() - count * pattern.len() + count * replacement.len() > max {
            return Err(too_long(max));
        }
        return Ok(t.replace(pattern, replacement));
    };
    let re = RegexBuilder::new(source)
        .case_insensitive(flags.contains('i'))
        .multi_line(flags.contains('m'))
        .dot_matches_new_line(flags.contains('s'))
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
        .map_err(|e| format!("'{pattern}' is not a regular expression Latch can run ({}).", first_line(&e.to_string())))?;
    ev.charge((t.len() / 64) as u64, 0).map_err(|e| e.message)?;
    let global = flags.contains('g');
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(t) {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&t[last..m.start()]);
        expand(replacement, &caps, &re, t, &mut out);
        last = m.end();
        if out.len() > max {
            return Err(too_long(max));
        }
        if !global {
            break;
        }
    }
    out.push_str(&t[last..]);
    if out.len() > max {
        return Err(too_long(max));
    }
    Ok(out)
}

fn first_line(s: &str) -> &str {
    s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(s).trim()
}

/// `/source/flags` → (source, flags), for flags from `gimsuy`.
fn regex_literal(p: &str) -> Option<(&str, &str)> {
    let rest = p.strip_prefix('/')?;
    let end = rest.rfind('/')?;
    let (source, flags) = (&rest[..end], &rest[end + 1..]);
    (!source.is_empty() && flags.chars().all(|c| "gimsuy".contains(c))).then_some((source, flags))
}

/// JavaScript's replacement patterns.
fn expand(replacement: &str, caps: &regex::Captures<'_>, re: &Regex, t: &str, out: &mut String) {
    let whole = caps.get(0).map_or(0..0, |m| m.range());
    let mut rest = replacement;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let b = after.as_bytes();
        match b.first() {
            Some(b'$') => {
                out.push('$');
                rest = &after[1..];
            }
            Some(b'&') => {
                out.push_str(&t[whole.clone()]);
                rest = &after[1..];
            }
            Some(b'`') => {
                out.push_str(&t[..whole.start]);
                rest = &after[1..];
            }
            Some(b'\'') => {
                out.push_str(&t[whole.end..]);
                rest = &after[1..];
            }
            Some(d) if d.is_ascii_digit() => {
                let groups = re.captures_len() - 1;
                let two = b.get(1).filter(|d2| d2.is_ascii_digit()).map(|d2| usize::from(d - b'0') * 10 + usize::from(d2 - b'0'));
                let (n, used) = match two {
                    Some(n) if n >= 1 && n <= groups => (n, 2),
                    _ => (usize::from(d - b'0'), 1),
                };
                if n >= 1 && n <= groups {
                    if let Some(m) = caps.get(n) {
                        out.push_str(m.as_str());
                    }
                } else {
                    out.push('$');
                    out.push_str(&after[..used]);
                }
                rest = &after[used..];
            }
            Some(b'<') => match after.find('>') {
                Some(close) if re.capture_names().flatten().any(|n| n == &after[1..close]) => {
                    if let Some(m) = caps.name(&after[1..close]) {
                        out.push_str(m.as_str());
                    }
                    rest = &after[close + 1..];
                }
                _ => {
                    out.push('$');
                    rest = after;
                }
            },
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

// ---------------------------------------------------------------------------
// Encodings and hashes

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Text → bytes in a named encoding (`text`/`utf8`, `hex`, `base64`,
/// `base64url`, `binary`/`latin1`, `ascii`).
fn decode_bytes(t: &str, encoding: &str) -> Result<Vec<u8>, String> {
    match encoding.to_lowercase().as_str() {
        "text" | "utf8" | "utf-8" => Ok(t.as_bytes().to_vec()),
        "ascii" => Ok(t.chars().map(|c| (u32::from(c) & 0x7f) as u8).collect()),
        "binary" | "latin1" => {
            t.chars().map(|c| u8::try_from(u32::from(c)).map_err(|_| format!("'{c}' is not a Latin-1 character."))).collect()
        }
        "hex" => {
            let t = t.trim();
            if t.len() % 2 != 0 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err("the text is not hexadecimal.".into());
            }
            Ok((0..t.len()).step_by(2).filter_map(|i| u8::from_str_radix(&t[i..i + 2], 16).ok()).collect())
        }
        "base64" | "base64url" => {
            let cleaned: String = t
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '=')
                .map(|c| match c {
                    '-' => '+',
                    '_' => '/',
                    c => c,
                })
                .collect();
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(cleaned).map_err(|_| "the text is not Base64.".into())
        }
        other => Err(format!("'{other}' is not an encoding (text, hex, base64, base64url, binary, ascii).")),
    }
}

/// Bytes → text in a named encoding (`hex`, `base64`, `base64url`,
/// `latin1`/`binary`).
fn encode_bytes(bytes: &[u8], encoding: &str) -> Result<String, String> {
    match encoding.to_lowercase().as_str() {
        "hex" => Ok(hex(bytes)),
        "base64" => Ok(base64::engine::general_purpose::STANDARD.encode(bytes)),
        "base64url" => Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)),
        "latin1" | "binary" => Ok(bytes.iter().map(|b| char::from(*b)).collect()),
        other => Err(format!("'{other}' is not an output encoding (hex, base64, base64url, latin1).")),
    }
}

fn digest(func: Func, data: &[u8], key: Option<&[u8]>) -> Result<Vec<u8>, String> {
    fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
        let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).map_err(|_| "the key cannot be used.".to_owned())?;
        m.update(data);
        Ok(m.finalize().into_bytes().to_vec())
    }
    Ok(match (func, key) {
        (Func::Sha1, None) => sha1::Sha1::digest(data).to_vec(),
        (Func::Sha256, None) => sha2::Sha256::digest(data).to_vec(),
        (Func::Sha512, None) => sha2::Sha512::digest(data).to_vec(),
        (Func::Sha1, Some(k)) => mac::<Hmac<sha1::Sha1>>(k, data)?,
        (Func::Sha256, Some(k)) => mac::<Hmac<sha2::Sha256>>(k, data)?,
        (_, Some(k)) => mac::<Hmac<sha2::Sha512>>(k, data)?,
        (_, None) => sha2::Sha512::digest(data).to_vec(),
    })
}

/// `encodeURIComponent`.
fn encode_uri_component(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for b in t.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `decodeURIComponent`: `%XX` sequences must make UTF-8; `+` stays `+`.
fn decode_uri_component(t: &str) -> Result<String, String> {
    let bytes = t.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = t.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) if t.as_bytes()[i + 1].is_ascii_hexdigit() => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                _ => return Err(format!("'{t}' is not a well-formed URL-encoded text.")),
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("'{t}' does not decode to UTF-8 text."))
}

static SCRIPT_STYLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<script\b[^>]*>.*?</script\s*>|<style\b[^>]*>.*?</style\s*>").expect("a valid pattern"));
static BREAK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)<br\s*/?>").expect("a valid pattern"));
static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<[^>]*>").expect("a valid pattern"));

fn strip_html(t: &str) -> String {
    let t = SCRIPT_STYLE.replace_all(t, "");
    let t = BREAK.replace_all(&t, "\n");
    TAG.replace_all(&t, "").into_owned()
}

/// `ascii(text, true)`: Latin letters with diacritics → their base letter.
fn fold_diacritic(c: char) -> Option<char> {
    const TABLE: &[(&str, char)] = &[
        ("ÀÁÂÃÄÅĀĂĄǍ", 'A'),
        ("àáâãäåāăąǎ", 'a'),
        ("ÇĆĈĊČ", 'C'),
        ("çćĉċč", 'c'),
        ("ĎĐ", 'D'),
        ("ďđ", 'd'),
        ("ÈÉÊËĒĔĖĘĚ", 'E'),
        ("èéêëēĕėęě", 'e'),
        ("ĜĞĠĢ", 'G'),
        ("ĝğġģ", 'g'),
        ("ĤĦ", 'H'),
        ("ĥħ", 'h'),
        ("ÌÍÎÏĨĪĬĮİǏ", 'I'),
        ("ìíîïĩīĭįıǐ", 'i'),
        ("Ĵ", 'J'),
        ("ĵ", 'j'),
        ("Ķ", 'K'),
        ("ķ", 'k'),
        ("ĹĻĽĿŁ", 'L'),
        ("ĺļľŀł", 'l'),
        ("ÑŃŅŇ", 'N'),
        ("ñńņň", 'n'),
        ("ÒÓÔÕÖØŌŎŐǑ", 'O'),
        ("òóôõöøōŏőǒ", 'o'),
        ("ŔŖŘ", 'R'),
        ("ŕŗř", 'r'),
        ("ŚŜŞŠȘ", 'S'),
        ("śŝşšș", 's'),
        ("ŢŤŦȚ", 'T'),
        ("ţťŧț", 't'),
        ("ÙÚÛÜŨŪŬŮŰŲǓ", 'U'),
        ("ùúûüũūŭůűųǔ", 'u'),
        ("Ŵ", 'W'),
        ("ŵ", 'w'),
        ("ÝŶŸ", 'Y'),
        ("ýÿŷ", 'y'),
        ("ŹŻŽ", 'Z'),
        ("źżž", 'z'),
    ];
    TABLE.iter().find(|(set, _)| set.contains(c)).map(|(_, base)| *base)
}
