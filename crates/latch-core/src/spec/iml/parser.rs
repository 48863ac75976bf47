//! The template parser (winnow): a JSON string value → text parts and
//! `{{expression}}` parts, each expression an [`Expr`] tree.
//!
//! Grammar, loosest first (JavaScript's precedence):
//!
//! ```text
//! template := (text | "{{" expr "}}")*
//! expr     := and (("||" | "|") and)*
//! and      := eq (("&&" | "&") eq)*
//! eq       := cmp (("===" | "==" | "=" | "!==" | "!=") cmp)*
//! cmp      := add (("<=" | ">=" | "<" | ">") add)*
//! add      := mul (("+" | "-") mul)*
//! mul      := unary (("*" | "/" | "%") unary)*
//! unary    := ("!" | "-" | "+")* postfix
//! postfix  := primary ("." key | "[" expr? "]")*
//! primary  := number | string | "(" expr ")" | name "(" args ")" | keyword | name | `key`
//! args     := (expr (("," | ";") expr)*)?
//! ```
//!
//! A chain of one precedence level (`a + b - c`) is one node holding its
//! operands in order, so a long chain does not make a deep tree; only
//! brackets, parentheses and calls nest, and no deeper than
//! [`MAX_PARSE_DEPTH`].

use winnow::ascii::{digit1, multispace0};
use winnow::combinator::{alt, cut_err, delimited, eof, opt, preceded, repeat};
use winnow::error::{AddContext, ErrMode, ParserError};
use winnow::prelude::*;
use winnow::stream::{LocatingSlice, Location, Stateful, Stream};
use winnow::token::{any, literal, one_of, take_till, take_until, take_while};

use super::functions::{self, Func};
use super::value::Value;
use super::ImlError;

/// How deeply brackets, parentheses and calls may nest in one expression.
pub const MAX_PARSE_DEPTH: usize = 32;

/// A parsed expression. Every node that can fail at run time keeps the
/// byte offset of its text in the template.
#[derive(Clone, Debug)]
pub(crate) enum Expr {
    Lit(Value),
    Keyword(Keyword, usize),
    Var(String, usize),
    Path {
        base: Box<Expr>,
        segs: Vec<Seg>,
    },
    Call {
        func: Func,
        pos: usize,
        args: Vec<Expr>,
    },
    /// Prefix operators, innermost last: `!-x` is `[Not, Neg]`.
    Unary {
        ops: Vec<UnOp>,
        pos: usize,
        expr: Box<Expr>,
    },
    /// `first op rest[0].2 op rest[1].2 …`, one precedence level, left to right.
    Chain {
        first: Box<Expr>,
        rest: Vec<(BinOp, usize, Expr)>,
    },
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

#[derive(Clone, Debug)]
pub(crate) enum Seg {
    /// `.name` or `` .`odd name` ``
    Key(String),
    /// `[expr]`: 1-based for arrays
    Index(Box<Expr>),
    /// `[]`: the first item
    First,
}

/// Keywords whose value is made at evaluation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keyword {
    Now,
    Timestamp,
    Uuid,
    Random,
    EmptyArray,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnOp {
    Not,
    Neg,
    Plus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Clone, Debug)]
pub(crate) enum Part {
    Text(String),
    Expr(Expr),
}

// ---------------------------------------------------------------------------
// The error type: the furthest position reached, what was expected there,
// or a message of our own (unknown function, arity, nesting).

#[derive(Clone, Debug, Default)]
pub(crate) struct PErr {
    pos: usize,
    expected: Vec<&'static str>,
    message: Option<String>,
}

impl<I: Stream + Location> ParserError<I> for PErr {
    type Inner = Self;

    fn from_input(input: &I) -> Self {
        PErr { pos: input.current_token_start(), expected: Vec::new(), message: None }
    }

    // winnow's default panics in debug builds; a template is untrusted input.
    fn assert(input: &I, _message: &'static str) -> Self
    where
        I: core::fmt::Debug,
    {
        Self::from_input(input)
    }

    fn or(self, other: Self) -> Self {
        if self.message.is_some() || self.pos > other.pos {
            return self;
        }
        if other.message.is_some() || other.pos > self.pos {
            return other;
        }
        let mut merged = self;
        for e in other.expected {
            if !merged.expected.contains(&e) {
                merged.expected.push(e);
            }
        }
        merged
    }

    fn into_inner(self) -> Result<Self::Inner, Self> {
        Ok(self)
    }
}

impl<I: Stream + Location> AddContext<I, &'static str> for PErr {
    fn add_context(mut self, input: &I, _start: &<I as Stream>::Checkpoint, context: &'static str) -> Self {
        if self.message.is_none() && self.expected.is_empty() {
            self.pos = self.pos.max(input.current_token_start());
            self.expected.push(context);
        }
        self
    }
}

type Input<'i> = Stateful<LocatingSlice<&'i str>, usize>;
type PResult<O> = Result<O, ErrMode<PErr>>;

fn fail_with(pos: usize, message: String) -> ErrMode<PErr> {
    ErrMode::Cut(PErr { pos, expected: Vec::new(), message: Some(message) })
}

// ---------------------------------------------------------------------------
// Entry points

/// Parses a whole JSON string value into its parts.
pub(crate) fn parse_template(text: &str) -> Result<Vec<Part>, ImlError> {
    let input = Stateful { input: LocatingSlice::new(text), state: 0usize };
    template.parse(input).map_err(|e| {
        let inner = e.inner();
        let pos = if inner.message.is_some() { inner.pos } else { inner.pos.max(e.offset()) }.min(text.len());
        ImlError { position: pos, message: describe(inner, text, pos) }
    })
}

fn describe(err: &PErr, text: &str, pos: usize) -> String {
    if let Some(m) = &err.message {
        return m.clone();
    }
    let found = match text.get(pos..).and_then(|rest| rest.chars().next()) {
        None => "the end of the text".to_owned(),
        Some(c) => format!("'{c}'"),
    };
    if err.expected.is_empty() {
        format!("Unexpected {found}.")
    } else {
        format!("Expected {}, found {found}.", err.expected.join(" or "))
    }
}

fn template(i: &mut Input<'_>) -> PResult<Vec<Part>> {
    let parts: Vec<Part> = repeat(0.., alt((interpolation.map(Part::Expr), text.map(|t: &str| Part::Text(t.to_owned()))))).parse_next(i)?;
    eof.context("'{{' or more text").parse_next(i)?;
    Ok(parts)
}

fn text<'i>(i: &mut Input<'i>) -> PResult<&'i str> {
    alt((take_until(1.., "{{"), take_while(1.., |_| true).verify(|s: &str| !s.contains("{{")))).parse_next(i)
}

fn interpolation(i: &mut Input<'_>) -> PResult<Expr> {
    let _ = literal("{{").parse_next(i)?;
    let e = cut_err(expr.context("an expression")).parse_next(i)?;
    let _ = cut_err(preceded(multispace0, literal("}}")).context("an operator or '}}'")).parse_next(i)?;
    Ok(e)
}

// ---------------------------------------------------------------------------
// Expressions

fn expr(i: &mut Input<'_>) -> PResult<Expr> {
    i.state += 1;
    if i.state > MAX_PARSE_DEPTH {
        let pos = i.current_token_start();
        i.state -= 1;
        return Err(fail_with(pos, format!("The expression nests deeper than {MAX_PARSE_DEPTH} levels.")));
    }
    let result = or_expr(i);
    i.state -= 1;
    result
}

fn ws_tok<'i>(tok: &'static str) -> impl Parser<Input<'i>, &'i str, ErrMode<PErr>> {
    preceded(multispace0, literal(tok))
}

fn or_expr(i: &mut Input<'_>) -> PResult<Expr> {
    let first = and_expr(i)?;
    let rest: Vec<Expr> = repeat(0.., preceded((ws_tok("|"), opt('|')), cut_err(and_expr.context("an expression")))).parse_next(i)?;
    Ok(if rest.is_empty() { first } else { Expr::Or(std::iter::once(first).chain(rest).collect()) })
}

fn and_expr(i: &mut Input<'_>) -> PResult<Expr> {
    let first = eq_expr(i)?;
    let rest: Vec<Expr> = repeat(0.., preceded((ws_tok("&"), opt('&')), cut_err(eq_expr.context("an expression")))).parse_next(i)?;
    Ok(if rest.is_empty() { first } else { Expr::And(std::iter::once(first).chain(rest).collect()) })
}

/// One level of left-associative binary operators, as one [`Expr::Chain`].
fn chain<'i>(
    i: &mut Input<'i>,
    operand: fn(&mut Input<'i>) -> PResult<Expr>,
    operator: fn(&mut Input<'i>) -> PResult<BinOp>,
) -> PResult<Expr> {
    let first = operand(i)?;
    let rest: Vec<(BinOp, usize, Expr)> = repeat(
        0..,
        (preceded(multispace0, operator.with_span()), cut_err(operand.context("an expression")))
            .map(|((op, span), rhs)| (op, span.start, rhs)),
    )
    .parse_next(i)?;
    Ok(if rest.is_empty() { first } else { Expr::Chain { first: Box::new(first), rest } })
}

fn eq_op(i: &mut Input<'_>) -> PResult<BinOp> {
    // `=`, `==`, `===` and `!=`, `!==`: all loose (see docs/iml.md).
    alt((('=', opt(alt(("==", "=")))).value(BinOp::Eq), ("!=", opt('=')).value(BinOp::Ne))).parse_next(i)
}

fn cmp_op(i: &mut Input<'_>) -> PResult<BinOp> {
    (one_of(['<', '>']), opt('='))
        .map(|(c, eq)| match (c, eq.is_some()) {
            ('<', false) => BinOp::Lt,
            ('<', true) => BinOp::Le,
            (_, false) => BinOp::Gt,
            (_, true) => BinOp::Ge,
        })
        .parse_next(i)
}

fn add_op(i: &mut Input<'_>) -> PResult<BinOp> {
    one_of(['+', '-']).map(|c| if c == '+' { BinOp::Add } else { BinOp::Sub }).parse_next(i)
}

fn mul_op(i: &mut Input<'_>) -> PResult<BinOp> {
    one_of(['*', '/', '%'])
        .map(|c| match c {
            '*' => BinOp::Mul,
            '/' => BinOp::Div,
            _ => BinOp::Mod,
        })
        .parse_next(i)
}

fn eq_expr(i: &mut Input<'_>) -> PResult<Expr> {
    chain(i, cmp_expr, eq_op)
}

fn cmp_expr(i: &mut Input<'_>) -> PResult<Expr> {
    chain(i, add_expr, cmp_op)
}

fn add_expr(i: &mut Input<'_>) -> PResult<Expr> {
    chain(i, mul_expr, add_op)
}

fn mul_expr(i: &mut Input<'_>) -> PResult<Expr> {
    chain(i, unary, mul_op)
}

fn unary(i: &mut Input<'_>) -> PResult<Expr> {
    let _ = multispace0.parse_next(i)?;
    let pos = i.current_token_start();
    let ops: Vec<UnOp> = repeat(
        0..,
        terminated_ws(alt((
            // `!=` never starts an operand, so `!` here is always a prefix.
            literal("!").value(UnOp::Not),
            literal("-").value(UnOp::Neg),
            literal("+").value(UnOp::Plus),
        ))),
    )
    .parse_next(i)?;
    let operand = postfix(i)?;
    Ok(if ops.is_empty() { operand } else { Expr::Unary { ops, pos, expr: Box::new(operand) } })
}

fn terminated_ws<'i, O>(p: impl Parser<Input<'i>, O, ErrMode<PErr>>) -> impl Parser<Input<'i>, O, ErrMode<PErr>> {
    winnow::combinator::terminated(p, multispace0)
}

fn postfix(i: &mut Input<'_>) -> PResult<Expr> {
    let base = primary(i)?;
    let segs: Vec<Seg> = repeat(0.., segment).parse_next(i)?;
    Ok(if segs.is_empty() { base } else { Expr::Path { base: Box::new(base), segs } })
}

fn segment(i: &mut Input<'_>) -> PResult<Seg> {
    alt((preceded('.', cut_err(alt((backtick_key, key_chars.map(str::to_owned))).context("a key after '.'"))).map(Seg::Key), bracket))
        .parse_next(i)
}

fn bracket(i: &mut Input<'_>) -> PResult<Seg> {
    let _ = '['.parse_next(i)?;
    let _ = multispace0.parse_next(i)?;
    if opt(']').parse_next(i)?.is_some() {
        return Ok(Seg::First);
    }
    let index = cut_err(expr.context("an index or ']'")).parse_next(i)?;
    let _ = cut_err(preceded(multispace0, ']').context("']'")).parse_next(i)?;
    Ok(Seg::Index(Box::new(index)))
}

fn key_chars<'i>(i: &mut Input<'i>) -> PResult<&'i str> {
    take_while(1.., |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$').parse_next(i)
}

fn backtick_key(i: &mut Input<'_>) -> PResult<String> {
    delimited('`', take_till(0.., '`'), cut_err('`').context("a closing '`'")).map(|s: &str| s.to_owned()).parse_next(i)
}

fn primary(i: &mut Input<'_>) -> PResult<Expr> {
    alt((number, string_lit.map(|s| Expr::Lit(Value::String(s))), parens, backtick_key_root, name)).parse_next(i)
}

fn number(i: &mut Input<'_>) -> PResult<Expr> {
    let text: &str = alt(((digit1, opt(('.', digit1)), opt(exponent)).take(), ('.', digit1, opt(exponent)).take())).parse_next(i)?;
    Ok(Expr::Lit(Value::Number(text.parse::<f64>().unwrap_or(f64::NAN))))
}

fn exponent<'i>(i: &mut Input<'i>) -> PResult<&'i str> {
    (one_of(['e', 'E']), opt(one_of(['+', '-'])), digit1).take().parse_next(i)
}

/// `'…'` or `"…"`; a backslash escapes the quote or another backslash and
/// is kept as written before anything else (so `'/\d+/'` stays a regex).
fn string_lit(i: &mut Input<'_>) -> PResult<String> {
    let quote = one_of(['\'', '"']).parse_next(i)?;
    let mut out = String::new();
    loop {
        let chunk: &str = take_till(0.., [quote, '\\']).parse_next(i)?;
        out.push_str(chunk);
        match opt(any).parse_next(i)? {
            Some(c) if c == quote => return Ok(out),
            Some('\\') => match opt(one_of([quote, '\\'])).parse_next(i)? {
                Some(escaped) => out.push(escaped),
                None => out.push('\\'),
            },
            _ => {
                return Err(ErrMode::Cut(PErr {
                    pos: i.current_token_start(),
                    expected: vec![if quote == '\'' { "a closing \"'\"" } else { "a closing '\"'" }],
                    message: None,
                }))
            }
        }
    }
}

fn parens(i: &mut Input<'_>) -> PResult<Expr> {
    delimited('(', cut_err(expr.context("an expression")), cut_err(preceded(multispace0, ')')).context("')'")).parse_next(i)
}

fn backtick_key_root(i: &mut Input<'_>) -> PResult<Expr> {
    let pos = i.current_token_start();
    backtick_key.map(|k| Expr::Var(k, pos)).parse_next(i)
}

fn identifier<'i>(i: &mut Input<'i>) -> PResult<&'i str> {
    (
        one_of(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '$'),
        take_while(0.., |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$'),
    )
        .take()
        .parse_next(i)
}

/// A call, a keyword or a variable's name.
fn name(i: &mut Input<'_>) -> PResult<Expr> {
    let pos = i.current_token_start();
    let ident = identifier(i)?;
    let checkpoint = i.checkpoint();
    let _ = multispace0.parse_next(i)?;
    if opt('(').parse_next(i)?.is_some() {
        let Some(func) = functions::lookup(ident) else {
            return Err(fail_with(pos, format!("Unknown function '{ident}'.")));
        };
        let mut args = Vec::new();
        if let Some(first) = opt(expr).parse_next(i)? {
            args.push(first);
            let more: Vec<Expr> =
                repeat(0.., preceded(preceded(multispace0, one_of([',', ';'])), cut_err(expr.context("an argument")))).parse_next(i)?;
            args.extend(more);
        }
        let _ = cut_err(preceded(multispace0, ')')).context("',' or ')'").parse_next(i)?;
        let (min, max) = func.arity();
        if args.len() < min || args.len() > max {
            return Err(fail_with(pos, arity_message(ident, min, max, args.len())));
        }
        return Ok(Expr::Call { func, pos, args });
    }
    i.reset(&checkpoint);
    Ok(keyword(ident, pos).unwrap_or_else(|| Expr::Var(ident.to_owned(), pos)))
}

fn arity_message(name: &str, min: usize, max: usize, got: usize) -> String {
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    let wanted = if min == max {
        format!("{min} {}", plural(min))
    } else if max == usize::MAX {
        format!("at least {min} {}", plural(min))
    } else {
        format!("{min} to {max} arguments")
    };
    format!("{name}() takes {wanted}, not {got}.")
}

fn keyword(ident: &str, pos: usize) -> Option<Expr> {
    let lit = |v: Value| Some(Expr::Lit(v));
    match ident {
        "true" => lit(Value::Bool(true)),
        "false" => lit(Value::Bool(false)),
        "null" | "erase" => lit(Value::Null),
        "ignore" => lit(Value::Undefined),
        "emptystring" => lit(Value::String(String::new())),
        "space" => lit(" ".into()),
        "newline" => lit("\n".into()),
        "tab" => lit("\t".into()),
        "nbsp" => lit("\u{a0}".into()),
        "carriagereturn" => lit("\r".into()),
        "pi" => lit(Value::Number(std::f64::consts::PI)),
        "emptyarray" => Some(Expr::Keyword(Keyword::EmptyArray, pos)),
        "now" => Some(Expr::Keyword(Keyword::Now, pos)),
        "timestamp" => Some(Expr::Keyword(Keyword::Timestamp, pos)),
        "uuid" => Some(Expr::Keyword(Keyword::Uuid, pos)),
        "random" => Some(Expr::Keyword(Keyword::Random, pos)),
        _ => None,
    }
}

/// Root variable names an expression reads, in order of first use.
pub(crate) fn collect_roots(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Lit(_) | Expr::Keyword(..) => {}
        Expr::Var(name, _) => {
            if !out.iter().any(|n| n == name) {
                out.push(name.clone());
            }
        }
        Expr::Path { base, segs } => {
            collect_roots(base, out);
            for seg in segs {
                if let Seg::Index(index) = seg {
                    collect_roots(index, out);
                }
            }
        }
        Expr::Call { args, .. } => args.iter().for_each(|a| collect_roots(a, out)),
        Expr::Unary { expr, .. } => collect_roots(expr, out),
        Expr::Chain { first, rest } => {
            collect_roots(first, out);
            rest.iter().for_each(|(_, _, e)| collect_roots(e, out));
        }
        Expr::And(items) | Expr::Or(items) => items.iter().for_each(|a| collect_roots(a, out)),
    }
}
