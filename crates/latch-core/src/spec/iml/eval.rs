//! The evaluator: walks an [`Expr`] with a [`Context`], inside [`Limits`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::functions;
use super::ops;
use super::parser::{Expr, Keyword, Seg, UnOp};
use super::value::Value;
use super::ImlError;

/// The variables a template reads, by root name (`temp`, `parameters`,
/// `common`, `data`, `connection`, `oauth`, `query`, `body`, `headers`,
/// `statusCode`, …). A name that is not here reads as undefined.
pub type Vars = BTreeMap<String, Value>;

/// Bounds on one evaluation (one [`Template::eval`](super::Template::eval)
/// or one [`eval_json`](super::eval_json) over a whole tree), so that a
/// hostile spec or response can neither hang Latch nor exhaust its memory.
/// Going past one is an [`ImlError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How deeply expressions may nest while evaluating, and how deeply a
    /// JSON tree (`eval_json`) or a `parseJSON` result may nest.
    pub max_depth: usize,
    /// The longest string an evaluation may make, in bytes.
    pub max_string_bytes: usize,
    /// The work budget: one step per expression node, plus one per item
    /// and per 64 bytes of every value copied or made.
    pub max_steps: u64,
    /// The longest array an evaluation may make.
    pub max_array_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_depth: 64, max_string_bytes: 4 << 20, max_steps: 1_000_000, max_array_len: 100_000 }
    }
}

/// What a template is evaluated against.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    pub vars: &'a Vars,
    /// The value of `now` (and `timestamp`).
    pub now: DateTime<Utc>,
    /// The zone `formatDate`/`parseDate` default to, and in which
    /// `addDays`/`addMonths`/`addYears` and the `set…` functions count
    /// calendar days (so they keep the wall-clock time across a DST change).
    pub timezone: chrono_tz::Tz,
    pub limits: Limits,
}

impl<'a> Context<'a> {
    /// A context in UTC with the default limits.
    pub fn new(vars: &'a Vars, now: DateTime<Utc>) -> Context<'a> {
        Context { vars, now, timezone: chrono_tz::UTC, limits: Limits::default() }
    }
}

/// One evaluation's running state: the step budget spent and the depth.
pub(crate) struct Eval<'c, 'a> {
    pub(crate) ctx: &'c Context<'a>,
    steps: u64,
    depth: usize,
}

enum Key<'k> {
    Name(&'k str),
    Val(Value),
    First,
}

impl<'c, 'a> Eval<'c, 'a> {
    pub(crate) fn new(ctx: &'c Context<'a>) -> Self {
        Eval { ctx, steps: 0, depth: 0 }
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.ctx.limits
    }

    /// Spends `n` steps of the budget.
    pub(crate) fn charge(&mut self, n: u64, pos: usize) -> Result<(), ImlError> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.ctx.limits.max_steps {
            return Err(ImlError::new(
                pos,
                format!("The evaluation took more than {} steps (Limits::max_steps).", self.ctx.limits.max_steps),
            ));
        }
        Ok(())
    }

    /// Checks a value made by the evaluation against the size limits.
    pub(crate) fn check_size(&self, v: &Value, pos: usize) -> Result<(), ImlError> {
        let limits = &self.ctx.limits;
        match v {
            Value::String(s) if s.len() > limits.max_string_bytes => {
                Err(ImlError::new(pos, format!("A string grew past {} bytes (Limits::max_string_bytes).", limits.max_string_bytes)))
            }
            Value::Array(a) if a.len() > limits.max_array_len => {
                Err(ImlError::new(pos, format!("An array grew past {} items (Limits::max_array_len).", limits.max_array_len)))
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn enter(&mut self, pos: usize) -> Result<(), ImlError> {
        self.depth += 1;
        if self.depth > self.ctx.limits.max_depth {
            self.depth -= 1;
            return Err(ImlError::new(
                pos,
                format!("The expression nests deeper than {} levels (Limits::max_depth).", self.ctx.limits.max_depth),
            ));
        }
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth -= 1;
    }

    pub(crate) fn eval(&mut self, e: &Expr) -> Result<Value, ImlError> {
        let pos = e.pos();
        self.enter(pos)?;
        let result = self.charge(1, pos).and_then(|()| self.eval_node(e, pos));
        self.leave();
        result
    }

    fn eval_node(&mut self, e: &Expr, pos: usize) -> Result<Value, ImlError> {
        match e {
            Expr::Lit(v) => Ok(v.clone()),
            Expr::Keyword(k, _) => Ok(self.keyword(*k)),
            Expr::Var(name, _) => match self.ctx.vars.get(name) {
                Some(v) => {
                    self.charge(v.weight(), pos)?;
                    Ok(v.clone())
                }
                None => Ok(Value::Undefined),
            },
            Expr::Path { base, segs } => self.path(base, segs, pos),
            Expr::Call { func, pos, args } => functions::call(self, *func, *pos, args),
            Expr::Unary { ops, expr, .. } => {
                let mut v = self.eval(expr)?;
                for op in ops.iter().rev() {
                    v = match op {
                        UnOp::Not => Value::Bool(!v.truthy()),
                        UnOp::Neg => Value::Number(-v.to_number()),
                        UnOp::Plus => Value::Number(v.to_number()),
                    };
                }
                Ok(v)
            }
            Expr::Chain { first, rest } => {
                let mut acc = self.eval(first)?;
                for (op, op_pos, rhs) in rest {
                    let right = self.eval(rhs)?;
                    acc = ops::binary(*op, acc, right, self.ctx.timezone, self.ctx.limits.max_string_bytes)
                        .map_err(|m| ImlError::new(*op_pos, m))?;
                    self.charge(acc.weight(), *op_pos)?;
                }
                Ok(acc)
            }
            Expr::And(items) => {
                let mut v = Value::Undefined;
                for item in items {
                    v = self.eval(item)?;
                    if !v.truthy() {
                        break;
                    }
                }
                Ok(v)
            }
            Expr::Or(items) => {
                let mut v = Value::Undefined;
                for item in items {
                    v = self.eval(item)?;
                    if v.truthy() {
                        break;
                    }
                }
                Ok(v)
            }
        }
    }

    fn keyword(&self, k: Keyword) -> Value {
        match k {
            Keyword::Now => Value::Date(self.ctx.now),
            Keyword::Timestamp => Value::Number(self.ctx.now.timestamp() as f64),
            Keyword::Uuid => Value::String(uuid::Uuid::new_v4().to_string()),
            Keyword::Random => Value::Number(random_unit()),
            Keyword::EmptyArray => Value::Array(Vec::new()),
        }
    }

    /// `a.b[1].c`: walks a variable by reference and copies only what it
    /// finds; walks any other value by taking it apart.
    fn path(&mut self, base: &Expr, segs: &[Seg], pos: usize) -> Result<Value, ImlError> {
        let mut keys = Vec::with_capacity(segs.len());
        for seg in segs {
            keys.push(match seg {
                Seg::Key(k) => Key::Name(k),
                Seg::Index(e) => Key::Val(self.eval(e)?),
                Seg::First => Key::First,
            });
        }
        if let Expr::Var(name, _) = base {
            let mut cur = self.ctx.vars.get(name);
            for key in &keys {
                cur = cur.and_then(|v| lookup(v, key));
            }
            return match cur {
                Some(v) => {
                    self.charge(v.weight(), pos)?;
                    Ok(v.clone())
                }
                None => Ok(Value::Undefined),
            };
        }
        let mut cur = self.eval(base)?;
        for key in &keys {
            cur = take(cur, key);
        }
        Ok(cur)
    }
}

impl Expr {
    /// Where the node's text starts, as far as the node knows (0 for
    /// literals, which cannot fail).
    pub(crate) fn pos(&self) -> usize {
        match self {
            Expr::Lit(_) => 0,
            Expr::Keyword(_, pos) | Expr::Var(_, pos) | Expr::Call { pos, .. } | Expr::Unary { pos, .. } => *pos,
            Expr::Path { base, .. } => base.pos(),
            Expr::Chain { first, .. } => first.pos(),
            Expr::And(items) | Expr::Or(items) => items.first().map_or(0, Expr::pos),
        }
    }
}

/// A 1-based index into `len` items: `1` the first, `-1` the last, `0`
/// and fractions nothing.
pub(crate) fn one_based(len: usize, n: f64) -> Option<usize> {
    if n.fract() != 0.0 || n == 0.0 || !n.is_finite() {
        return None;
    }
    if n > 0.0 {
        let i = n as u64 - 1;
        (i < len as u64).then_some(i as usize)
    } else {
        let back = (-n) as u64;
        (back <= len as u64).then(|| len - back as usize)
    }
}

fn index_of_key(len: usize, key: &str) -> Option<usize> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return None;
    }
    key.parse::<f64>().ok().and_then(|n| one_based(len, n))
}

fn lookup<'v>(v: &'v Value, key: &Key<'_>) -> Option<&'v Value> {
    match (v, key) {
        (Value::Object(m), Key::Name(k)) => m.get(*k),
        (Value::Array(a), Key::Name(k)) => index_of_key(a.len(), k).map(|i| &a[i]),
        (Value::Array(a), Key::Val(Value::Number(n))) => one_based(a.len(), *n).map(|i| &a[i]),
        (Value::Array(a), Key::Val(Value::String(s))) => index_of_key(a.len(), s).map(|i| &a[i]),
        (Value::Object(m), Key::Val(k)) => m.get(&k.display()),
        (Value::Array(a), Key::First) => a.first(),
        (Value::Undefined | Value::Null, Key::First) => None,
        (other, Key::First) => Some(other),
        _ => None,
    }
}

fn take(v: Value, key: &Key<'_>) -> Value {
    let found = match (v, key) {
        (Value::Object(mut m), Key::Name(k)) => m.swap_remove(*k),
        (Value::Object(mut m), Key::Val(k)) => m.swap_remove(&k.display()),
        (Value::Array(a), Key::First) => a.into_iter().next(),
        (Value::Array(a), key) => {
            let i = match key {
                Key::Name(name) => index_of_key(a.len(), name),
                Key::Val(Value::Number(n)) => one_based(a.len(), *n),
                Key::Val(Value::String(s)) => index_of_key(a.len(), s),
                _ => None,
            };
            i.and_then(|i| a.into_iter().nth(i))
        }
        (Value::Undefined | Value::Null, _) => None,
        (other, Key::First) => Some(other),
        _ => None,
    };
    found.unwrap_or(Value::Undefined)
}

/// A uniformly random number in [0, 1) from the operating system's
/// generator (through a v4 UUID's random bits).
pub(crate) fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / 2f64.powi(53)
}

pub(crate) fn random_u64() -> u64 {
    let bits = uuid::Uuid::new_v4().as_u128();
    (bits as u64) ^ ((bits >> 64) as u64).rotate_left(17)
}
