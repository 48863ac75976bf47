//! IML values: what a template evaluates to, and JavaScript's coercions
//! between them (truthiness, `Number()`, `String()`), which Make's IML
//! inherits.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Offset as _, SecondsFormat, TimeZone, Utc};
use indexmap::IndexMap;

/// An object: keys keep their insertion order, as in JavaScript.
pub type Map = IndexMap<String, Value>;

/// A value in an IML evaluation.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A missing value (`parameters.unfilled`, `ignore`): drops out of
    /// objects and arrays when turned into JSON.
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Value>),
    Object(Map),
    Date(DateTime<Utc>),
}

impl Value {
    /// The IML value of a JSON value (numbers become `f64`).
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => Value::Array(items.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()),
        }
    }

    /// The JSON form: `Undefined` is `None` (and drops out of objects and
    /// arrays), a date is its ISO 8601 string with milliseconds and `Z`,
    /// a whole number is a JSON integer, NaN and ±Infinity are `null` (as
    /// `JSON.stringify` writes them).
    pub fn to_json(&self) -> Option<serde_json::Value> {
        Some(match self {
            Value::Undefined => return None,
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_to_json(*n),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(items) => serde_json::Value::Array(items.iter().filter_map(Value::to_json).collect()),
            Value::Object(map) => serde_json::Value::Object(map.iter().filter_map(|(k, v)| v.to_json().map(|v| (k.clone(), v))).collect()),
            Value::Date(d) => serde_json::Value::String(iso(d)),
        })
    }

    /// JavaScript truthiness: `undefined`, `null`, `false`, `0`, `NaN` and
    /// `""` are false; everything else (`[]`, `{}`, any date) is true.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Undefined | Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => *n != 0.0 && !n.is_nan(),
            Value::String(s) => !s.is_empty(),
            Value::Array(_) | Value::Object(_) | Value::Date(_) => true,
        }
    }

    /// `ifempty`'s notion of empty: undefined, null or `""`. An empty array
    /// or object is not empty (as in Make's runtime).
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Undefined | Value::Null => true,
            Value::String(s) => s.is_empty(),
            _ => false,
        }
    }

    /// The instant a value stands for: a date, or a string in ISO 8601 /
    /// RFC 3339 form (`2025-01-02T03:04:05.678Z`, `2025-01-02T03:04:05+01:00`,
    /// `2025-01-02 03:04:05`, `2025-01-02`; no offset means UTC).
    pub fn as_date(&self) -> Option<DateTime<Utc>> {
        match self {
            Value::Date(d) => Some(*d),
            Value::String(s) => parse_iso(s, &Utc),
            _ => None,
        }
    }

    /// The string form used when a value is written into text (mixed
    /// templates, `+` with a string, `toString`): undefined and null are
    /// `""`, numbers as JavaScript prints them, dates in ISO 8601 with
    /// milliseconds, arrays their items' forms joined by `,`, objects their
    /// JSON.
    pub fn display(&self) -> String {
        let mut out = String::new();
        self.write_display(&mut out);
        out
    }

    pub(crate) fn write_display(&self, out: &mut String) {
        match self {
            Value::Undefined | Value::Null => {}
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&format_number(*n)),
            Value::String(s) => out.push_str(s),
            Value::Date(d) => out.push_str(&iso(d)),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_display(out);
                }
            }
            Value::Object(_) => {
                if let Some(json) = self.to_json() {
                    out.push_str(&json.to_string());
                }
            }
        }
    }

    /// The name of the value's type, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Undefined => "undefined",
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
            Value::Date(_) => "a date",
        }
    }

    /// JavaScript's `Number(value)`; a date is its milliseconds since 1970.
    pub(crate) fn to_number(&self) -> f64 {
        match self {
            Value::Undefined => f64::NAN,
            Value::Null => 0.0,
            Value::Bool(b) => f64::from(u8::from(*b)),
            Value::Number(n) => *n,
            Value::String(s) => parse_js_number(s),
            Value::Date(d) => d.timestamp_millis() as f64,
            Value::Array(items) => match items.as_slice() {
                [] => 0.0,
                [one] if !matches!(one, Value::Array(_) | Value::Object(_)) => one.to_number(),
                _ => f64::NAN,
            },
            Value::Object(_) => f64::NAN,
        }
    }

    /// How much work copying this value is, in evaluation steps: one per
    /// item, one per 64 bytes of text.
    pub(crate) fn weight(&self) -> u64 {
        match self {
            Value::String(s) => (s.len() / 64) as u64,
            Value::Array(items) => items.iter().map(|v| 1 + v.weight()).sum(),
            Value::Object(map) => map.iter().map(|(k, v)| 1 + (k.len() / 64) as u64 + v.weight()).sum(),
            _ => 0,
        }
    }

    /// Nesting depth: 0 for a scalar, 1 for a flat array or object.
    pub(crate) fn depth(&self) -> usize {
        match self {
            Value::Array(items) => 1 + items.iter().map(Value::depth).max().unwrap_or(0),
            Value::Object(map) => 1 + map.values().map(Value::depth).max().unwrap_or(0),
            _ => 0,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Number(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

/// ISO 8601 with milliseconds and `Z`, as JavaScript's `toISOString`.
pub(crate) fn iso(d: &DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn number_to_json(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

/// JavaScript's `Number.prototype.toString()`: the shortest digits that
/// read back as the same number, in plain notation from 1e-7 to 1e21.
pub(crate) fn format_number(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if n == 0.0 {
        return "0".into();
    }
    if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 {
        return format!("{n:.0}");
    }
    let exp_form = format!("{:e}", n.abs());
    let (mantissa, exp) = exp_form.split_once('e').unwrap_or((&exp_form, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = digits.len() as i32;
    let point = exp + 1;
    let body = if k <= point && point <= 21 {
        format!("{digits}{}", "0".repeat((point - k) as usize))
    } else if 0 < point && point <= 21 {
        format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
    } else if -6 < point && point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else {
        let e = point - 1;
        let sign = if e < 0 { '-' } else { '+' };
        if k == 1 {
            format!("{digits}e{sign}{}", e.abs())
        } else {
            format!("{}.{}e{sign}{}", &digits[..1], &digits[1..], e.abs())
        }
    };
    if n < 0.0 {
        format!("-{body}")
    } else {
        body
    }
}

/// JavaScript's `Number(string)`: surrounding white space ignored, `""`
/// is 0, decimal with an optional exponent, `0x`/`0o`/`0b` integers,
/// `Infinity`; anything else NaN.
pub(crate) fn parse_js_number(s: &str) -> f64 {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if t.is_empty() {
        return 0.0;
    }
    let (sign, unsigned) = match t.as_bytes()[0] {
        b'-' => (-1.0, &t[1..]),
        b'+' => (1.0, &t[1..]),
        _ => (1.0, t),
    };
    if unsigned == "Infinity" {
        return sign * f64::INFINITY;
    }
    for (prefix, radix) in [("0x", 16), ("0X", 16), ("0o", 8), ("0O", 8), ("0b", 2), ("0B", 2)] {
        if let Some(rest) = t.strip_prefix(prefix) {
            // Only unsigned, as in JavaScript.
            return u64::from_str_radix(rest, radix).map_or(f64::NAN, |v| v as f64);
        }
    }
    let bytes = unsigned.as_bytes();
    let mut i = 0;
    let mut mantissa_digits = 0;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
        mantissa_digits += 1;
    }
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return f64::NAN;
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return f64::NAN;
        }
    }
    if i != bytes.len() {
        return f64::NAN;
    }
    unsigned.parse::<f64>().map_or(f64::NAN, |v| sign * v)
}

/// Reads an ISO 8601 / RFC 3339 date; a date or time without an offset is
/// read in `tz`.
pub(crate) fn parse_iso<Tz: TimeZone>(s: &str, tz: &Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let b = s.as_bytes();
    // YYYY-MM-DD first, so that "123" or "March" are not dates here.
    if b.len() < 10 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M%z"] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(s, fmt).ok())
        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))?;
    local_to_utc(tz, naive)
}

/// A wall-clock time in `tz` as an instant. Across a DST fall-back the
/// earlier instant; a time skipped by a spring-forward moves on by the gap
/// (02:30 on the night clocks go 02:00 → 03:00 is 03:30), as moment does.
pub(crate) fn local_to_utc<Tz: TimeZone>(tz: &Tz, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    if let Some(d) = tz.from_local_datetime(&naive).earliest() {
        return Some(d.with_timezone(&Utc));
    }
    // In a gap: read it with the offset in force just before the gap.
    for hours in 1..=3 {
        let before = naive.checked_sub_signed(chrono::TimeDelta::hours(hours))?;
        if let Some(d) = tz.from_local_datetime(&before).earliest() {
            let offset = d.offset().fix();
            return naive.checked_sub_signed(chrono::TimeDelta::seconds(i64::from(offset.local_minus_utc()))).map(|n| n.and_utc());
        }
    }
    None
}
