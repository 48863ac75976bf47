//! Date functions: moment.js format tokens for `formatDate`/`parseDate`,
//! arithmetic and setters. Calendar units (days, months, years and the
//! setters) count in the context's time zone, so they keep the wall-clock
//! time across a DST change; seconds, minutes and hours are exact
//! durations.

use chrono::{DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::functions::Func;
use super::value::{local_to_utc, parse_iso, Value};

type R = Result<Value, String>;

const DEFAULT_FORMAT: &str = "YYYY-MM-DDTHH:mm:ss.SSSZ";
const MONTHS: [&str; 12] =
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// Dates stay within ±200,000 years, well inside what chrono can shift
/// by a time zone or a week without overflowing.
const MAX_YEAR: i32 = 200_000;

pub(crate) fn apply(func: Func, args: &[Value], now: DateTime<Utc>, tz: Tz, max_string: usize) -> R {
    match apply_unchecked(func, args, now, tz, max_string)? {
        Value::Date(d) if d.year().abs() > MAX_YEAR => Err(out_of_range()),
        v => Ok(v),
    }
}

fn apply_unchecked(func: Func, args: &[Value], now: DateTime<Utc>, tz: Tz, max_string: usize) -> R {
    let arg = |i: usize| args.get(i).unwrap_or(&Value::Undefined);
    let zone = |i: usize| -> Result<Tz, String> {
        match arg(i) {
            Value::Undefined | Value::Null => Ok(tz),
            Value::String(s) if s.is_empty() => Ok(tz),
            other => {
                let name = other.display();
                name.parse::<Tz>().map_err(|_| format!("'{name}' is not a time zone (use an IANA name such as 'Europe/Prague' or 'UTC')."))
            }
        }
    };
    match func {
        Func::FormatDate => {
            let Some(d) = to_date(arg(0), tz)? else { return Ok(arg(0).clone()) };
            let fmt = match arg(1) {
                Value::Undefined | Value::Null => DEFAULT_FORMAT.to_owned(),
                other => other.display(),
            };
            if fmt.len() > max_string / 16 {
                return Err(format!("the format is longer than {} bytes.", max_string / 16));
            }
            Ok(Value::String(format(d, &fmt, zone(2)?)))
        }
        Func::ParseDate => {
            let zone = zone(2)?;
            let fmt = match arg(1) {
                Value::Undefined | Value::Null => None,
                Value::String(s) if s.is_empty() => None,
                other => Some(other.display()),
            };
            match (arg(0), fmt) {
                (Value::Undefined | Value::Null, _) => Ok(arg(0).clone()),
                (Value::Date(d), None) => Ok(Value::Date(*d)),
                (Value::Number(ms), None) => from_millis(*ms).map(Value::Date),
                (Value::String(s), None) => parse_iso(s, &zone)
                    .or_else(|| DateTime::parse_from_rfc2822(s.trim()).ok().map(|d| d.with_timezone(&Utc)))
                    .map(Value::Date)
                    .ok_or_else(|| format!("'{s}' is not an ISO 8601 or RFC 2822 date; give its format, e.g. parseDate(x, 'DD.MM.YYYY').")),
                (v, Some(fmt)) => parse(&v.display(), &fmt, zone, now).map(Value::Date),
                (v, None) => Err(format!("expected a date, got {}.", v.type_name())),
            }
        }
        Func::AddSeconds | Func::AddMinutes | Func::AddHours => {
            let Some(d) = to_date(arg(0), tz)? else { return Ok(arg(0).clone()) };
            let n = arg(1).to_number();
            if n.is_nan() {
                return Ok(Value::Undefined);
            }
            let unit = match func {
                Func::AddSeconds => 1e3,
                Func::AddMinutes => 6e4,
                _ => 3.6e6,
            };
            let ms = (n * unit).round();
            let out =
                (ms.abs() < 1e16).then(|| TimeDelta::try_milliseconds(ms as i64)).flatten().and_then(|delta| d.checked_add_signed(delta));
            out.map(Value::Date).ok_or_else(out_of_range)
        }
        Func::AddDays | Func::AddMonths | Func::AddYears => {
            let Some(d) = to_date(arg(0), tz)? else { return Ok(arg(0).clone()) };
            let n = arg(1).to_number();
            if n.is_nan() {
                return Ok(Value::Undefined);
            }
            let n = n.round();
            if n.abs() > 1e7 {
                return Err(out_of_range());
            }
            let local = d.with_timezone(&tz).naive_local();
            let n = n as i64;
            let moved = match func {
                Func::AddDays => add_days(local, n),
                Func::AddMonths => add_months(local, n),
                _ => add_months(local, n * 12),
            };
            moved.and_then(|l| local_to_utc(&tz, l)).map(Value::Date).ok_or_else(out_of_range)
        }
        Func::SetSecond | Func::SetMinute | Func::SetHour | Func::SetDate | Func::SetDay | Func::SetMonth | Func::SetYear => {
            let Some(d) = to_date(arg(0), tz)? else { return Ok(arg(0).clone()) };
            let n = match (func, arg(1)) {
                (Func::SetDay, Value::String(s)) if name_index(s, &WEEKDAYS).is_some() => {
                    name_index(s, &WEEKDAYS).unwrap_or(0) as f64 + 1.0
                }
                (Func::SetMonth, Value::String(s)) if name_index(s, &MONTHS).is_some() => name_index(s, &MONTHS).unwrap_or(0) as f64 + 1.0,
                (_, v) => v.to_number(),
            };
            if !n.is_finite() {
                return Err(format!("expected a number, got '{}'.", arg(1).display()));
            }
            if n.abs() > 1e7 {
                return Err(out_of_range());
            }
            let n = n.trunc() as i64;
            let local = d.with_timezone(&tz).naive_local();
            let set = match func {
                Func::SetSecond => local.with_second(0).and_then(|l| l.checked_add_signed(TimeDelta::seconds(n))),
                Func::SetMinute => local.with_minute(0).and_then(|l| l.checked_add_signed(TimeDelta::minutes(n))),
                Func::SetHour => local.with_hour(0).and_then(|l| l.checked_add_signed(TimeDelta::hours(n))),
                Func::SetDate => local.with_day(1).and_then(|l| add_days(l, n - 1)),
                Func::SetDay => add_days(local, n - 1 - i64::from(local.weekday().num_days_from_sunday())),
                Func::SetMonth => set_year_month(local, i64::from(local.year()), n - 1),
                _ => set_year_month(local, n, i64::from(local.month0())),
            };
            set.and_then(|l| local_to_utc(&tz, l)).map(Value::Date).ok_or_else(out_of_range)
        }
        Func::DateDiff => {
            let (Some(end), Some(start)) = (to_date(arg(0), tz)?, to_date(arg(1), tz)?) else { return Ok(Value::Undefined) };
            let ms = (end - start).num_milliseconds();
            if ms < 0 {
                return Err("the start date (second argument) is after the end date (first).".into());
            }
            let unit = arg(2).display();
            let (s, m, h) = (ms / 1000, ms / 60_000, ms / 3_600_000);
            Ok(Value::Number(match unit.as_str() {
                "D" => (ms / 86_400_000) as f64,
                "H" => h as f64,
                "m" => m as f64,
                "s" => s as f64,
                "RH" => (h % 24) as f64,
                "Rm" => (m % 60) as f64,
                "Rs" => (s % 60) as f64,
                other => return Err(format!("'{other}' is not a unit (D, H, m, s, RH, Rm, Rs).")),
            }))
        }
        _ => Err("internal: not a date function.".into()),
    }
}

fn out_of_range() -> String {
    "the date is out of range.".into()
}

fn from_millis(ms: f64) -> Result<DateTime<Utc>, String> {
    if !ms.is_finite() || ms.abs() > 8.64e15 {
        return Err(out_of_range());
    }
    DateTime::from_timestamp_millis(ms.round() as i64).filter(|d| d.year().abs() <= MAX_YEAR).ok_or_else(out_of_range)
}

/// A date argument: a date, an ISO 8601 string (no offset → `tz`), or
/// milliseconds since 1970. `None` for undefined, null and "".
pub(crate) fn to_date(v: &Value, tz: Tz) -> Result<Option<DateTime<Utc>>, String> {
    match v {
        Value::Undefined | Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::Date(d) if d.year().abs() > MAX_YEAR => Err(out_of_range()),
        Value::Date(d) => Ok(Some(*d)),
        Value::Number(ms) => from_millis(*ms).map(Some),
        Value::String(s) => parse_iso(s, &tz)
            .or_else(|| DateTime::parse_from_rfc2822(s.trim()).ok().map(|d| d.with_timezone(&Utc)))
            .map(Some)
            .ok_or_else(|| format!("'{s}' is not a date (ISO 8601 expected; parseDate reads other forms).")),
        other => Err(format!("expected a date, got {}.", other.type_name())),
    }
}

fn name_index(s: &str, names: &[&str]) -> Option<usize> {
    let s = s.trim().to_lowercase();
    if s.len() < 2 {
        return None;
    }
    names.iter().position(|n| {
        let n = n.to_lowercase();
        n == s || (s.len() == 3 && n.starts_with(&s))
    })
}

fn add_days(l: NaiveDateTime, n: i64) -> Option<NaiveDateTime> {
    if n >= 0 {
        l.checked_add_days(Days::new(n as u64))
    } else {
        l.checked_sub_days(Days::new(n.unsigned_abs()))
    }
}

fn add_months(l: NaiveDateTime, n: i64) -> Option<NaiveDateTime> {
    let months = u32::try_from(n.unsigned_abs()).ok()?;
    if n >= 0 {
        l.checked_add_months(Months::new(months))
    } else {
        l.checked_sub_months(Months::new(months))
    }
}

/// The same day and time in another month (month0 may overflow into other
/// years); the day is clamped to the month's length, as moment does.
fn set_year_month(l: NaiveDateTime, year: i64, month0: i64) -> Option<NaiveDateTime> {
    let year = year.checked_add(month0.div_euclid(12))?;
    let month = u32::try_from(month0.rem_euclid(12)).ok()? + 1;
    let year = i32::try_from(year).ok()?;
    let last = days_in_month(year, month)?;
    NaiveDate::from_ymd_opt(year, month, l.day().min(last)).map(|d| d.and_time(l.time()))
}

fn days_in_month(year: i32, month: u32) -> Option<u32> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = if month == 12 { NaiveDate::from_ymd_opt(year + 1, 1, 1) } else { NaiveDate::from_ymd_opt(year, month + 1, 1) };
    Some(next.map_or(31, |n| (n - first).num_days() as u32))
}

// ---------------------------------------------------------------------------
// moment.js format tokens

#[rustfmt::skip]
const TOKENS: &[&str] = &[
    "YYYYYY", "YYYY", "YY", "Y", "Qo", "Q", "MMMM", "MMM", "MM", "Mo", "M", "DDDD", "DDDo", "DDD", "DD", "Do", "D", "dddd", "ddd", "dd",
    "do", "d", "E", "e", "WW", "Wo", "W", "ww", "wo", "w", "GGGG", "GG", "gggg", "gg", "HH", "H", "hh", "h", "kk", "k", "mm", "m", "ss",
    "s", "SSSSSSSSS", "SSSSSSSS", "SSSSSSS", "SSSSSS", "SSSSS", "SSSS", "SSS", "SS", "S", "A", "a", "ZZ", "Z", "zz", "z", "X", "x", "LTS",
    "LT", "LLLL", "LLL", "LL", "L", "llll", "lll", "ll", "l",
];

enum Piece<'f> {
    Literal(&'f str),
    Token(&'static str),
}

/// Splits a moment format into tokens and literal text (`[escaped]` text
/// and every character that is not a token).
fn tokenize(fmt: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < fmt.len() {
        let rest = &fmt[i..];
        if let Some(inner) = rest.strip_prefix('[') {
            if let Some(close) = inner.find(']') {
                out.push(Piece::Literal(&inner[..close]));
                i += close + 2;
                continue;
            }
        }
        if let Some(tok) = TOKENS.iter().find(|t| rest.starts_with(**t)) {
            out.push(Piece::Token(tok));
            i += tok.len();
            continue;
        }
        let len = rest.chars().next().map_or(1, char::len_utf8);
        out.push(Piece::Literal(&rest[..len]));
        i += len;
    }
    out
}

fn ordinal(n: i64) -> String {
    let suffix = match (n % 100, n % 10) {
        (11..=13, _) => "th",
        (_, 1) => "st",
        (_, 2) => "nd",
        (_, 3) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// The English-locale week (weeks start on Sunday; week 1 holds 1 January)
/// and the year it belongs to.
fn locale_week(d: NaiveDate) -> (i64, i32) {
    let saturday = d.checked_add_signed(TimeDelta::days(6 - i64::from(d.weekday().num_days_from_sunday()))).unwrap_or(d);
    (i64::from(saturday.ordinal0() / 7 + 1), saturday.year())
}

/// `formatDate`: moment.js tokens in the zone `tz`.
pub(crate) fn format(d: DateTime<Utc>, fmt: &str, tz: Tz) -> String {
    let local = d.with_timezone(&tz);
    let offset = local.offset().fix().local_minus_utc();
    let mut out = String::new();
    for piece in tokenize(fmt) {
        match piece {
            Piece::Literal(s) => out.push_str(s),
            Piece::Token(t) => format_token(&mut out, t, &local, offset),
        }
    }
    out
}

fn format_token(out: &mut String, token: &str, local: &DateTime<Tz>, offset: i32) {
    let date = local.date_naive();
    let hour12 = match local.hour() % 12 {
        0 => 12,
        h => h,
    };
    let sign = if offset < 0 { '-' } else { '+' };
    let (oh, om) = (offset.abs() / 3600, (offset.abs() % 3600) / 60);
    let s = match token {
        "YYYYYY" => format!("{}{:06}", if local.year() < 0 { '-' } else { '+' }, local.year().abs()),
        "YYYY" => {
            if (0..=9999).contains(&local.year()) {
                format!("{:04}", local.year())
            } else {
                local.year().to_string()
            }
        }
        "YY" => format!("{:02}", local.year().rem_euclid(100)),
        "Y" => local.year().to_string(),
        "Q" => ((local.month0() / 3) + 1).to_string(),
        "Qo" => ordinal(i64::from(local.month0() / 3 + 1)),
        "MMMM" => MONTHS[local.month0() as usize].to_owned(),
        "MMM" => MONTHS[local.month0() as usize][..3].to_owned(),
        "MM" => format!("{:02}", local.month()),
        "Mo" => ordinal(i64::from(local.month())),
        "M" => local.month().to_string(),
        "DDDD" => format!("{:03}", local.ordinal()),
        "DDDo" => ordinal(i64::from(local.ordinal())),
        "DDD" => local.ordinal().to_string(),
        "DD" => format!("{:02}", local.day()),
        "Do" => ordinal(i64::from(local.day())),
        "D" => local.day().to_string(),
        "dddd" => WEEKDAYS[local.weekday().num_days_from_sunday() as usize].to_owned(),
        "ddd" => WEEKDAYS[local.weekday().num_days_from_sunday() as usize][..3].to_owned(),
        "dd" => WEEKDAYS[local.weekday().num_days_from_sunday() as usize][..2].to_owned(),
        "do" => ordinal(i64::from(local.weekday().num_days_from_sunday())),
        "d" | "e" => local.weekday().num_days_from_sunday().to_string(),
        "E" => local.weekday().number_from_monday().to_string(),
        "WW" => format!("{:02}", date.iso_week().week()),
        "Wo" => ordinal(i64::from(date.iso_week().week())),
        "W" => date.iso_week().week().to_string(),
        "ww" => format!("{:02}", locale_week(date).0),
        "wo" => ordinal(locale_week(date).0),
        "w" => locale_week(date).0.to_string(),
        "GGGG" => format!("{:04}", date.iso_week().year()),
        "GG" => format!("{:02}", date.iso_week().year().rem_euclid(100)),
        "gggg" => format!("{:04}", locale_week(date).1),
        "gg" => format!("{:02}", locale_week(date).1.rem_euclid(100)),
        "HH" => format!("{:02}", local.hour()),
        "H" => local.hour().to_string(),
        "hh" => format!("{hour12:02}"),
        "h" => hour12.to_string(),
        "kk" => format!("{:02}", if local.hour() == 0 { 24 } else { local.hour() }),
        "k" => (if local.hour() == 0 { 24 } else { local.hour() }).to_string(),
        "mm" => format!("{:02}", local.minute()),
        "m" => local.minute().to_string(),
        "ss" => format!("{:02}", local.second()),
        "s" => local.second().to_string(),
        "A" => (if local.hour() < 12 { "AM" } else { "PM" }).to_owned(),
        "a" => (if local.hour() < 12 { "am" } else { "pm" }).to_owned(),
        "ZZ" => format!("{sign}{oh:02}{om:02}"),
        "Z" => format!("{sign}{oh:02}:{om:02}"),
        "zz" | "z" => local.format("%Z").to_string(),
        "X" => local.timestamp().to_string(),
        "x" => local.timestamp_millis().to_string(),
        "LTS" => return out.push_str(&format(local.with_timezone(&Utc), "h:mm:ss A", local.timezone())),
        "LT" => return out.push_str(&format(local.with_timezone(&Utc), "h:mm A", local.timezone())),
        "LLLL" => return out.push_str(&format(local.with_timezone(&Utc), "dddd, MMMM D, YYYY h:mm A", local.timezone())),
        "LLL" => return out.push_str(&format(local.with_timezone(&Utc), "MMMM D, YYYY h:mm A", local.timezone())),
        "LL" => return out.push_str(&format(local.with_timezone(&Utc), "MMMM D, YYYY", local.timezone())),
        "L" => return out.push_str(&format(local.with_timezone(&Utc), "MM/DD/YYYY", local.timezone())),
        "llll" => return out.push_str(&format(local.with_timezone(&Utc), "ddd, MMM D, YYYY h:mm A", local.timezone())),
        "lll" => return out.push_str(&format(local.with_timezone(&Utc), "MMM D, YYYY h:mm A", local.timezone())),
        "ll" => return out.push_str(&format(local.with_timezone(&Utc), "MMM D, YYYY", local.timezone())),
        "l" => return out.push_str(&format(local.with_timezone(&Utc), "M/D/YYYY", local.timezone())),
        fraction => {
            // S … SSSSSSSSS: the first n digits of the fraction of a second.
            let nanos = format!("{:09}", local.nanosecond() % 1_000_000_000);
            nanos[..fraction.len().min(9)].to_owned()
        }
    };
    out.push_str(&s);
}

// ---------------------------------------------------------------------------
// parseDate with a format: moment's forgiving (non-strict) reading, in
// which a number token skips what stands before its digits and literal
// text need not match.

#[derive(Default)]
struct Fields {
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    hour: Option<i64>,
    minute: Option<i64>,
    second: Option<i64>,
    nanos: Option<i64>,
    pm: Option<bool>,
    offset: Option<i32>,
    millis: Option<f64>,
    matched: usize,
}

struct Cursor<'s> {
    rest: &'s str,
}

impl<'s> Cursor<'s> {
    /// Skips to the next digit (or sign, if `signed`) and takes up to `max`
    /// digits.
    fn number(&mut self, max: usize, signed: bool) -> Option<(i64, usize)> {
        let start = self.rest.find(|c: char| c.is_ascii_digit() || (signed && (c == '-' || c == '+')))?;
        let mut s = &self.rest[start..];
        let negative = s.starts_with('-');
        if signed && (s.starts_with('-') || s.starts_with('+')) {
            s = &s[1..];
        }
        let len = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        let n: i64 = s[..len].parse().ok()?;
        self.rest = &s[len..];
        Some((if negative { -n } else { n }, len))
    }

    /// Skips to the next letter and takes the word.
    fn word(&mut self) -> Option<&'s str> {
        let start = self.rest.find(char::is_alphabetic)?;
        let s = &self.rest[start..];
        let len = s.find(|c: char| !c.is_alphabetic()).unwrap_or(s.len());
        self.rest = &s[len..];
        Some(&s[..len])
    }
}

pub(crate) fn parse(input: &str, fmt: &str, tz: Tz, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let mut f = Fields::default();
    let mut c = Cursor { rest: input };
    for piece in tokenize(fmt) {
        match piece {
            Piece::Literal(lit) => {
                if let Some(rest) = c.rest.strip_prefix(lit) {
                    c.rest = rest;
                }
            }
            Piece::Token(t) => read_token(&mut c, t, &mut f),
        }
    }
    let bad = || format!("'{input}' does not match the date format '{fmt}'.");
    if f.matched == 0 {
        return Err(bad());
    }
    if let Some(ms) = f.millis {
        return from_millis(ms);
    }
    let today = now.with_timezone(&tz).date_naive();
    // Units larger than the largest one given come from today; smaller ones
    // start at their minimum (moment's rule).
    let (year, month, day) = match (f.year, f.month, f.day) {
        (None, None, None) => (i64::from(today.year()), i64::from(today.month()), i64::from(today.day())),
        (None, None, Some(d)) => (i64::from(today.year()), i64::from(today.month()), d),
        (None, Some(m), d) => (i64::from(today.year()), m, d.unwrap_or(1)),
        (Some(y), m, d) => (y, m.unwrap_or(1), d.unwrap_or(1)),
    };
    let mut hour = f.hour.unwrap_or(0);
    if let Some(pm) = f.pm {
        if pm && hour < 12 {
            hour += 12;
        } else if !pm && hour == 12 {
            hour = 0;
        }
    }
    let (minute, second) = (f.minute.unwrap_or(0), f.second.unwrap_or(0));
    let date = i32::try_from(year)
        .ok()
        .zip(u32::try_from(month).ok())
        .zip(u32::try_from(day).ok())
        .and_then(|((y, m), d)| NaiveDate::from_ymd_opt(y, m, d))
        .ok_or_else(|| format!("'{input}' is not a valid date ({year}-{month:02}-{day:02})."))?;
    let time_ok = (0..=59).contains(&minute)
        && (0..=59).contains(&second)
        && ((0..=23).contains(&hour) || (hour == 24 && minute == 0 && second == 0));
    if !time_ok {
        return Err(format!("'{input}' is not a valid time ({hour:02}:{minute:02}:{second:02})."));
    }
    let naive = date
        .and_hms_nano_opt(0, minute as u32, second as u32, f.nanos.unwrap_or(0) as u32)
        .and_then(|n| n.checked_add_signed(TimeDelta::hours(hour)))
        .ok_or_else(bad)?;
    match f.offset {
        Some(secs) => {
            FixedOffset::east_opt(secs).and_then(|o| o.from_local_datetime(&naive).single()).map(|d| d.with_timezone(&Utc)).ok_or_else(bad)
        }
        None => local_to_utc(&tz, naive).ok_or_else(bad),
    }
}

fn read_token(c: &mut Cursor<'_>, token: &str, f: &mut Fields) {
    let hit = |f: &mut Fields| f.matched += 1;
    match token {
        "YYYYYY" | "Y" => {
            if let Some((n, _)) = c.number(6, true) {
                f.year = Some(n);
                hit(f);
            }
        }
        "YYYY" => {
            if let Some((n, _)) = c.number(4, false) {
                f.year = Some(n);
                hit(f);
            }
        }
        "YY" => {
            if let Some((n, _)) = c.number(2, false) {
                f.year = Some(if n < 69 { 2000 + n } else { 1900 + n });
                hit(f);
            }
        }
        "MM" | "M" | "Mo" => {
            if let Some((n, _)) = c.number(2, false) {
                f.month = Some(n);
                hit(f);
            }
        }
        "MMMM" | "MMM" => {
            if let Some(i) = c.word().and_then(month_from_word) {
                f.month = Some(i as i64 + 1);
                hit(f);
            }
        }
        "DD" | "D" | "Do" => {
            if let Some((n, _)) = c.number(2, false) {
                f.day = Some(n);
                hit(f);
            }
        }
        "HH" | "H" | "hh" | "h" | "kk" | "k" => {
            if let Some((n, _)) = c.number(2, false) {
                f.hour = Some(if token.starts_with('k') && n == 24 { 0 } else { n });
                hit(f);
            }
        }
        "mm" | "m" => {
            if let Some((n, _)) = c.number(2, false) {
                f.minute = Some(n);
                hit(f);
            }
        }
        "ss" | "s" => {
            if let Some((n, _)) = c.number(2, false) {
                f.second = Some(n);
                hit(f);
            }
        }
        "A" | "a" => {
            if let Some(w) = c.word() {
                let w = w.to_lowercase();
                if w.starts_with('p') {
                    f.pm = Some(true);
                } else if w.starts_with('a') {
                    f.pm = Some(false);
                }
            }
        }
        "ZZ" | "Z" => {
            let start = c.rest.find(['+', '-', 'Z', 'z']);
            if let Some(start) = start {
                let s = &c.rest[start..];
                if s.starts_with(['Z', 'z']) {
                    f.offset = Some(0);
                    c.rest = &s[1..];
                } else {
                    let negative = s.starts_with('-');
                    let digits: String = s[1..].chars().take(5).filter(char::is_ascii_digit).take(4).collect();
                    let consumed =
                        s[1..].chars().take_while(|ch| ch.is_ascii_digit() || *ch == ':').take(5).map(char::len_utf8).sum::<usize>();
                    if digits.len() >= 2 {
                        let h: i32 = digits[..2].parse().unwrap_or(0);
                        let m: i32 = digits.get(2..4).and_then(|m| m.parse().ok()).unwrap_or(0);
                        let secs = h * 3600 + m * 60;
                        f.offset = Some(if negative { -secs } else { secs });
                        c.rest = &s[1 + consumed..];
                    }
                }
            }
        }
        "X" => {
            if let Some((whole, _)) = c.number(16, true) {
                let mut secs = whole as f64;
                if let Some(frac) = c.rest.strip_prefix('.') {
                    let len = frac.bytes().take_while(u8::is_ascii_digit).take(9).count();
                    if len > 0 {
                        let x: f64 = format!("0.{}", &frac[..len]).parse().unwrap_or(0.0);
                        secs += if whole < 0 { -x } else { x };
                        c.rest = &frac[len..];
                    }
                }
                f.millis = Some(secs * 1000.0);
                hit(f);
            }
        }
        "x" => {
            if let Some((ms, _)) = c.number(19, true) {
                f.millis = Some(ms as f64);
                hit(f);
            }
        }
        t if t.starts_with('S') => {
            if let Some(start) = c.rest.find(|ch: char| ch.is_ascii_digit()) {
                let s = &c.rest[start..];
                let len = s.bytes().take_while(u8::is_ascii_digit).count();
                let digits: String = s[..len].chars().take(9).collect();
                f.nanos = format!("{digits:0<9}").parse().ok();
                c.rest = &s[len..];
                hit(f);
            }
        }
        "dddd" | "ddd" | "dd" => {
            let _ = c.word();
        }
        "zz" | "z" => {
            let _ = c.word();
        }
        // Numbers that say nothing the other tokens don't (week, weekday,
        // quarter, day of year): read past them.
        _ => {
            let _ = c.number(4, false);
        }
    }
}

fn month_from_word(w: &str) -> Option<usize> {
    let w = w.to_lowercase();
    if w.len() < 3 {
        return None;
    }
    MONTHS.iter().position(|m| {
        let m = m.to_lowercase();
        m == w || m.starts_with(&w) || (w.len() >= 3 && m[..3] == w[..3])
    })
}
