//! The binary operators: arithmetic, `+` as concatenation, comparison
//! (dates as instants) and loose equality.

use std::cmp::Ordering;

use super::parser::BinOp;
use super::value::{parse_iso, Value};

pub(crate) fn binary(op: BinOp, a: Value, b: Value, tz: chrono_tz::Tz, max_string: usize) -> Result<Value, String> {
    Ok(match op {
        BinOp::Add => add(a, b, max_string)?,
        BinOp::Sub => arith(&a, &b, |x, y| x - y, true),
        BinOp::Mul => arith(&a, &b, |x, y| x * y, true),
        BinOp::Div => arith(&a, &b, |x, y| x / y, false),
        BinOp::Mod => arith(&a, &b, |x, y| x % y, true),
        BinOp::Lt => Value::Bool(compare(&a, &b, tz) == Some(Ordering::Less)),
        BinOp::Le => Value::Bool(matches!(compare(&a, &b, tz), Some(Ordering::Less | Ordering::Equal))),
        BinOp::Gt => Value::Bool(compare(&a, &b, tz) == Some(Ordering::Greater)),
        BinOp::Ge => Value::Bool(matches!(compare(&a, &b, tz), Some(Ordering::Greater | Ordering::Equal))),
        BinOp::Eq => Value::Bool(loose_eq(&a, &b, tz)),
        BinOp::Ne => Value::Bool(!loose_eq(&a, &b, tz)),
    })
}

/// `+`: numbers (and booleans) add; if either side is text (or a date,
/// array or object) the two string forms are joined; a missing or null
/// side gives the other side.
fn add(a: Value, b: Value, max_string: usize) -> Result<Value, String> {
    let nullish = |v: &Value| matches!(v, Value::Undefined | Value::Null);
    match (nullish(&a), nullish(&b)) {
        (true, true) => return Ok(if a == Value::Null || b == Value::Null { Value::Null } else { Value::Undefined }),
        (true, false) => return Ok(b),
        (false, true) => return Ok(a),
        (false, false) => {}
    }
    let numeric = |v: &Value| matches!(v, Value::Number(_) | Value::Bool(_));
    if numeric(&a) && numeric(&b) {
        return Ok(arith(&a, &b, |x, y| x + y, true));
    }
    let mut s = match a {
        Value::String(s) => s,
        other => other.display(),
    };
    let right = match b {
        Value::String(r) => r,
        other => other.display(),
    };
    if s.len() + right.len() > max_string {
        return Err(format!("A string grew past {max_string} bytes (Limits::max_string_bytes)."));
    }
    s.push_str(&right);
    Ok(Value::String(s))
}

/// Arithmetic on `Number()` of both sides. Make computes with decimals
/// (0.1 + 0.2 = 0.3); a result of non-whole operands is rounded to 15
/// significant digits to give the same answers.
fn arith(a: &Value, b: &Value, f: impl Fn(f64, f64) -> f64, tidy: bool) -> Value {
    let (x, y) = (a.to_number(), b.to_number());
    let r = f(x, y);
    Value::Number(if tidy && (x.fract() != 0.0 || y.fract() != 0.0) { round_15(r) } else { r })
}

pub(crate) fn round_15(r: f64) -> f64 {
    if !r.is_finite() || r == 0.0 {
        return r;
    }
    format!("{r:.14e}").parse::<f64>().unwrap_or(r)
}

/// `<` and friends. Two strings compare as text; a date against a date,
/// an ISO 8601 string or a number (milliseconds) compares as instants;
/// anything else as `Number()`. `None` when the two are not comparable
/// (undefined, NaN), which makes every comparison false.
pub(crate) fn compare(a: &Value, b: &Value, tz: chrono_tz::Tz) -> Option<Ordering> {
    if let (Value::String(x), Value::String(y)) = (a, b) {
        return Some(x.cmp(y));
    }
    if matches!(a, Value::Date(_)) || matches!(b, Value::Date(_)) {
        let (x, y) = (instant(a, tz)?, instant(b, tz)?);
        return x.partial_cmp(&y);
    }
    a.to_number().partial_cmp(&b.to_number())
}

/// Milliseconds since 1970 of a value compared with a date.
fn instant(v: &Value, tz: chrono_tz::Tz) -> Option<f64> {
    match v {
        Value::Date(d) => Some(d.timestamp_millis() as f64),
        Value::String(s) => parse_iso(s, &tz).map(|d| d.timestamp_millis() as f64),
        Value::Undefined => None,
        other => Some(other.to_number()).filter(|n| !n.is_nan()),
    }
}

/// `=`, `==` and `===` (all the same, as in Make's runtime): JavaScript's
/// loose equality — `"1" = 1`, `true = 1`, `null = undefined` — plus a
/// date equals an ISO string or a number of milliseconds for the same
/// instant, and arrays and objects are equal when their contents are.
pub(crate) fn loose_eq(a: &Value, b: &Value, tz: chrono_tz::Tz) -> bool {
    use Value::*;
    match (a, b) {
        (Undefined | Null, Undefined | Null) => true,
        (Undefined | Null, _) | (_, Undefined | Null) => false,
        (String(x), String(y)) => x == y,
        (Date(_), _) | (_, Date(_)) => match (instant(a, tz), instant(b, tz)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
        (Array(_) | Object(_), Array(_) | Object(_)) => strict_eq(a, b),
        (Array(_) | Object(_), other) | (other, Array(_) | Object(_)) => {
            let primitive = if matches!(a, Array(_) | Object(_)) { a.display() } else { b.display() };
            loose_eq(&String(primitive), other, tz)
        }
        _ => a.to_number() == b.to_number(),
    }
}

/// Same type and same value; arrays and objects item by item.
pub(crate) fn strict_eq(a: &Value, b: &Value) -> bool {
    use Value::*;
    match (a, b) {
        (Undefined, Undefined) | (Null, Null) => true,
        (Bool(x), Bool(y)) => x == y,
        (Number(x), Number(y)) => x == y,
        (String(x), String(y)) => x == y,
        (Date(x), Date(y)) => x == y,
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| strict_eq(p, q)),
        (Object(x), Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| strict_eq(v, w))),
        _ => false,
    }
}
