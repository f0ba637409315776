//! Date and time functions: date, time, datetime, julianday, unixepoch,
//! strftime, timediff — a port of SQLite's date.c.
//!
//! Every value is reduced to one instant, `jd`: the Julian day number times
//! 86 400 000 (milliseconds since -4713-11-24 12:00 UTC). Broken-down fields
//! (Y-M-D, h:m:s) are derived from it lazily and back, exactly as SQLite
//! does, including its float rounding, so results match bit for bit:
//!
//! ```text
//!   time value --parse--> DateTime{jd | ymd, hms, raw number}
//!              --modifier*--> ... --format--> text / real / integer
//! ```
//!
//! Time values: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.SSS]]` (also with `T`,
//! and a `Z` or `+HH:MM` zone), `HH:MM[:SS[.SSS]]`, a number (Julian day,
//! or Unix seconds with 'unixepoch'/'auto'), and `now` taken from
//! [`FuncContext::now_millis`]. Modifiers: `±N
//! days|hours|minutes|seconds|months|years`, `±HH:MM[:SS]`,
//! `±YYYY-MM-DD[ HH:MM]`, `start of day|month|year`, `weekday N`,
//! `unixepoch`, `julianday`, `auto`, `subsec`, `floor`, `ceiling`,
//! `localtime`, `utc`.
//!
//! Deliberate deviation: Workers have no local time zone, so `localtime`
//! and `utc` treat local time as UTC (SQLite on a UTC host behaves the
//! same).

use super::{FuncContext, ScalarFn};
use crate::sql::value::num::{atof, is_space};
use crate::sql::value::Value;
use crate::Result;

/// Julian day (ms) of the Unix epoch.
const UNIX_EPOCH_JD_MS: i64 = 210_866_760_000_000;
/// Julian day (ms) of 9999-12-31 23:59:59.999.
const MAX_JD_MS: i64 = 464_269_060_799_999;

pub(super) fn lookup(name: &str, argc: usize) -> Option<ScalarFn> {
    let f: ScalarFn = match (name, argc) {
        ("date", _) => date,
        ("time", _) => time,
        ("datetime", _) => datetime,
        ("julianday", _) => julianday,
        ("unixepoch", _) => unixepoch,
        ("strftime", n) if n >= 1 => strftime,
        ("timediff", 2) => timediff,
        _ => return None,
    };
    Some(f)
}

#[derive(Clone, Copy, Default, Debug)]
struct DateTime {
    jd: i64,
    y: i32,
    mo: i32,
    d: i32,
    h: i32,
    mi: i32,
    tz: i32,
    s: f64,
    valid_jd: bool,
    valid_ymd: bool,
    valid_hms: bool,
    n_floor: i32,
    raw_s: bool,
    is_error: bool,
    use_subsec: bool,
    is_utc: bool,
    is_local: bool,
}

fn at(z: &[u8], i: usize) -> u8 {
    z.get(i).copied().unwrap_or(0)
}

/// `getDigits`: fixed-width fields `(width, min, max, separator)`; returns
/// how many leading fields parsed.
fn get_digits(z: &[u8], specs: &[(usize, i32, i32, u8)], out: &mut [i32]) -> usize {
    let mut pos = 0;
    for (k, &(n, min, max, next)) in specs.iter().enumerate() {
        let mut val = 0;
        for _ in 0..n {
            let c = at(z, pos);
            if !c.is_ascii_digit() {
                return k;
            }
            val = val * 10 + (c - b'0') as i32;
            pos += 1;
        }
        if val < min || val > max || (next != 0 && next != at(z, pos)) {
            return k;
        }
        out[k] = val;
        pos += 1;
    }
    specs.len()
}

impl DateTime {
    fn error() -> DateTime {
        DateTime {
            is_error: true,
            ..DateTime::default()
        }
    }

    fn parse_timezone(&mut self, z: &[u8]) -> bool {
        let mut i = 0;
        while is_space(at(z, i)) {
            i += 1;
        }
        self.tz = 0;
        let c = at(z, i);
        let sgn = match c {
            b'-' => -1,
            b'+' => 1,
            b'Z' | b'z' => {
                i += 1;
                self.is_local = false;
                self.is_utc = true;
                while is_space(at(z, i)) {
                    i += 1;
                }
                return at(z, i) != 0;
            }
            _ => return c != 0,
        };
        i += 1;
        let mut v = [0; 2];
        if get_digits(
            &z[i.min(z.len())..],
            &[(2, 0, 14, b':'), (2, 0, 59, 0)],
            &mut v,
        ) != 2
        {
            return true;
        }
        i += 5;
        self.tz = sgn * (v[1] + v[0] * 60);
        while is_space(at(z, i)) {
            i += 1;
        }
        at(z, i) != 0
    }

    /// `parseHhMmSs`; true on failure.
    fn parse_hms(&mut self, z: &[u8]) -> bool {
        let mut v = [0; 2];
        if get_digits(z, &[(2, 0, 24, b':'), (2, 0, 59, 0)], &mut v) != 2 {
            return true;
        }
        let mut i = 5;
        let mut s = 0;
        let mut ms = 0.0;
        if at(z, i) == b':' {
            i += 1;
            let mut sv = [0; 1];
            if get_digits(&z[i.min(z.len())..], &[(2, 0, 59, 0)], &mut sv) != 1 {
                return true;
            }
            s = sv[0];
            i += 2;
            if at(z, i) == b'.' && at(z, i + 1).is_ascii_digit() {
                let mut scale = 1.0;
                i += 1;
                while at(z, i).is_ascii_digit() {
                    ms = ms * 10.0 + (at(z, i) - b'0') as f64;
                    scale *= 10.0;
                    i += 1;
                }
                ms /= scale;
            }
        }
        self.valid_jd = false;
        self.raw_s = false;
        self.valid_hms = true;
        self.h = v[0];
        self.mi = v[1];
        self.s = s as f64 + ms;
        self.parse_timezone(&z[i.min(z.len())..])
    }

    fn compute_jd(&mut self) {
        if self.valid_jd {
            return;
        }
        let (mut y, mut m, d) = if self.valid_ymd {
            (self.y, self.mo, self.d)
        } else {
            (2000, 1, 1)
        };
        if !(-4713..=9999).contains(&y) || self.raw_s {
            *self = DateTime::error();
            return;
        }
        if m <= 2 {
            y -= 1;
            m += 12;
        }
        let a = y / 100;
        let b = 2 - a + a / 4;
        let x1 = 36525 * (y + 4716) / 100;
        let x2 = 306001 * (m + 1) / 10000;
        self.jd = (((x1 + x2 + d + b) as f64 - 1524.5) * 86400000.0) as i64;
        self.valid_jd = true;
        if self.valid_hms {
            self.jd += (self.h * 3600000 + self.mi * 60000) as i64 + (self.s * 1000.0 + 0.5) as i64;
            if self.tz != 0 {
                self.jd -= self.tz as i64 * 60000;
                self.valid_ymd = false;
                self.valid_hms = false;
                self.tz = 0;
                self.is_utc = true;
                self.is_local = false;
            }
        }
    }

    fn compute_floor(&mut self) {
        self.n_floor = if self.d <= 28 || ((1 << self.mo) & 0x15aa) != 0 {
            0
        } else if self.mo != 2 {
            (self.d == 31) as i32
        } else if self.y % 4 != 0 || (self.y % 100 == 0 && self.y % 400 != 0) {
            self.d - 28
        } else {
            self.d - 29
        };
    }

    /// `parseYyyyMmDd`; true on failure.
    fn parse_ymd(&mut self, z: &[u8]) -> bool {
        let (neg, z) = if at(z, 0) == b'-' {
            (true, &z[1..])
        } else {
            (false, z)
        };
        let mut v = [0; 3];
        if get_digits(
            z,
            &[(4, 0, 9999, b'-'), (2, 1, 12, b'-'), (2, 1, 31, 0)],
            &mut v,
        ) != 3
        {
            return true;
        }
        let mut i = 10;
        while is_space(at(z, i)) || at(z, i) == b'T' {
            i += 1;
        }
        let rest = &z[i.min(z.len())..];
        if !self.parse_hms(rest) {
            // got the time
        } else if at(z, i) == 0 {
            self.valid_hms = false;
        } else {
            return true;
        }
        self.valid_jd = false;
        self.valid_ymd = true;
        self.y = if neg { -v[0] } else { v[0] };
        self.mo = v[1];
        self.d = v[2];
        self.compute_floor();
        if self.tz != 0 {
            self.compute_jd();
        }
        false
    }

    fn set_now(&mut self, ctx: &FuncContext) {
        self.jd = ctx.now_millis() as i64 + UNIX_EPOCH_JD_MS;
        self.valid_jd = true;
        self.is_utc = true;
        self.is_local = false;
        self.clear_ymd_hms_tz();
    }

    fn set_raw_number(&mut self, r: f64) {
        self.s = r;
        self.raw_s = true;
        if (0.0..5373484.5).contains(&r) {
            self.jd = (r * 86400000.0 + 0.5) as i64;
            self.valid_jd = true;
        }
    }

    /// `parseDateOrTime`; true on failure.
    fn parse_date_or_time(&mut self, z: &[u8], ctx: &FuncContext) -> bool {
        if !self.parse_ymd(z) {
            return false;
        }
        if !self.parse_hms(z) {
            return false;
        }
        if z.eq_ignore_ascii_case(b"now") {
            self.set_now(ctx);
            return false;
        }
        let (r, rc) = atof(z);
        if rc > 0 {
            self.set_raw_number(r);
            return false;
        }
        if z.eq_ignore_ascii_case(b"subsec") || z.eq_ignore_ascii_case(b"subsecond") {
            self.use_subsec = true;
            self.set_now(ctx);
            return false;
        }
        true
    }

    fn compute_ymd(&mut self) {
        if self.valid_ymd {
            return;
        }
        if !self.valid_jd {
            self.y = 2000;
            self.mo = 1;
            self.d = 1;
        } else if !(0..=MAX_JD_MS).contains(&self.jd) {
            *self = DateTime::error();
            return;
        } else {
            let z = ((self.jd + 43200000) / 86400000) as i32;
            let a = ((z as f64 - 1867216.25) / 36524.25) as i32;
            let a = z + 1 + a - (a / 4);
            let b = a + 1524;
            let c = ((b as f64 - 122.1) / 365.25) as i32;
            let d = (36525 * (c & 32767)) / 100;
            let e = ((b - d) as f64 / 30.6001) as i32;
            let x1 = (30.6001 * e as f64) as i32;
            self.d = b - d - x1;
            self.mo = if e < 14 { e - 1 } else { e - 13 };
            self.y = if self.mo > 2 { c - 4716 } else { c - 4715 };
        }
        self.valid_ymd = true;
    }

    fn compute_hms(&mut self) {
        if self.valid_hms {
            return;
        }
        self.compute_jd();
        let day_ms = ((self.jd + 43200000) % 86400000) as i32;
        self.s = (day_ms % 60000) as f64 / 1000.0;
        let day_min = day_ms / 60000;
        self.mi = day_min % 60;
        self.h = day_min / 60;
        self.raw_s = false;
        self.valid_hms = true;
    }

    fn compute_ymd_hms(&mut self) {
        self.compute_ymd();
        self.compute_hms();
    }

    fn clear_ymd_hms_tz(&mut self) {
        self.valid_ymd = false;
        self.valid_hms = false;
        self.tz = 0;
    }

    /// `toLocaltime` with local time = UTC: re-derive the broken-down
    /// fields from the instant.
    fn convert_to_localtime(&mut self) {
        self.compute_jd();
        let jd = self.jd;
        // After a failed computeJD SQLite converts its zeroed state, which
        // reads as 2000-01-01 00:00:00.
        let mut x = if self.valid_jd {
            DateTime {
                jd,
                valid_jd: true,
                ..DateTime::default()
            }
        } else {
            DateTime::default()
        };
        x.compute_ymd_hms();
        self.y = x.y;
        self.mo = x.mo;
        self.d = x.d;
        self.h = x.h;
        self.mi = x.mi;
        self.s = x.s.trunc() + (jd % 1000) as f64 * 0.001;
        self.valid_ymd = true;
        self.valid_hms = true;
        self.valid_jd = false;
        self.raw_s = false;
        self.tz = 0;
        self.is_error = false;
    }
}

mod format;
mod modifier;

use format::{strftime, timediff};

/// `isDate`: parses the time value and applies the modifiers; None when
/// the result is NULL (bad input or out of range).
fn is_date(args: &[Value], ctx: &FuncContext) -> Option<DateTime> {
    let mut p = DateTime::default();
    if args.is_empty() {
        p.set_now(ctx);
    } else {
        match &args[0] {
            Value::Integer(_) | Value::Real(_) => {
                p.set_raw_number(args[0].to_real().unwrap_or(0.0))
            }
            v => {
                let z = v.to_text()?;
                if p.parse_date_or_time(z.as_bytes(), ctx) {
                    return None;
                }
            }
        }
    }
    for (i, m) in args.iter().enumerate().skip(1) {
        let z = m.to_text()?;
        if modifier::parse_modifier(z.as_bytes(), &mut p, i) {
            return None;
        }
    }
    p.compute_jd();
    if p.is_error || !(0..=MAX_JD_MS).contains(&p.jd) {
        return None;
    }
    if args.len() == 1 && p.valid_ymd && p.d > 28 {
        // Normalize an out-of-range day such as 2023-02-31.
        p.valid_ymd = false;
    }
    Some(p)
}

fn text_or_null(v: Option<String>) -> Result<Value> {
    Ok(v.map(Value::Text).unwrap_or(Value::Null))
}

fn fmt_date(x: &mut DateTime) -> String {
    x.compute_ymd();
    let sign = if x.y < 0 { "-" } else { "" };
    format!(
        "{sign}{:04}-{:02}-{:02}",
        x.y.abs() % 10000,
        x.mo % 100,
        x.d % 100
    )
}

fn fmt_time(x: &mut DateTime) -> String {
    x.compute_hms();
    if x.use_subsec {
        let s = (1000.0 * x.s + 0.5) as i32;
        format!(
            "{:02}:{:02}:{:02}.{:03}",
            x.h % 100,
            x.mi % 100,
            (s / 1000) % 100,
            s % 1000
        )
    } else {
        format!(
            "{:02}:{:02}:{:02}",
            x.h % 100,
            x.mi % 100,
            (x.s as i32) % 100
        )
    }
}

fn date(args: &[Value], ctx: &mut FuncContext) -> Result<Value> {
    text_or_null(is_date(args, ctx).map(|mut x| fmt_date(&mut x)))
}

fn time(args: &[Value], ctx: &mut FuncContext) -> Result<Value> {
    text_or_null(is_date(args, ctx).map(|mut x| fmt_time(&mut x)))
}

fn datetime(args: &[Value], ctx: &mut FuncContext) -> Result<Value> {
    text_or_null(is_date(args, ctx).map(|mut x| {
        x.compute_ymd_hms();
        format!("{} {}", fmt_date(&mut x), fmt_time(&mut x))
    }))
}

fn julianday(args: &[Value], ctx: &mut FuncContext) -> Result<Value> {
    Ok(match is_date(args, ctx) {
        Some(mut x) => {
            x.compute_jd();
            Value::Real(x.jd as f64 / 86400000.0)
        }
        None => Value::Null,
    })
}

fn unixepoch(args: &[Value], ctx: &mut FuncContext) -> Result<Value> {
    Ok(match is_date(args, ctx) {
        Some(mut x) => {
            x.compute_jd();
            if x.use_subsec {
                Value::Real((x.jd - UNIX_EPOCH_JD_MS) as f64 / 1000.0)
            } else {
                Value::Integer(x.jd / 1000 - UNIX_EPOCH_JD_MS / 1000)
            }
        }
        None => Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[&str]) -> Value {
        let args: Vec<Value> = args.iter().map(|s| Value::Text(s.to_string())).collect();
        let f = lookup(name, args.len()).expect("function exists");
        f(&args, &mut FuncContext::at(1_709_214_330_250, 0)).expect("no error")
    }
    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn formats_and_now() {
        assert_eq!(call("date", &["2024-03-15 10:20:30"]), t("2024-03-15"));
        assert_eq!(call("time", &["2024-03-15T10:20:30.5"]), t("10:20:30"));
        assert_eq!(call("datetime", &["now"]), t("2024-02-29 13:45:30"));
        assert_eq!(
            call("datetime", &["now", "subsec"]),
            t("2024-02-29 13:45:30.250")
        );
        assert_eq!(
            call("julianday", &["2000-01-01 12:00:00"]),
            Value::Real(2451545.0)
        );
        assert_eq!(call("unixepoch", &["1970-01-02"]), Value::Integer(86400));
        assert_eq!(call("date", &["2023-02-31"]), t("2023-03-03"));
        assert_eq!(call("date", &["garbage"]), Value::Null);
        assert_eq!(
            call("datetime", &["2024-01-01 10:00+02:00"]),
            t("2024-01-01 08:00:00")
        );
    }

    #[test]
    fn modifiers() {
        assert_eq!(call("date", &["2024-01-31", "+1 month"]), t("2024-03-02"));
        assert_eq!(
            call("date", &["2024-01-31", "+1 month", "floor"]),
            t("2024-02-29")
        );
        assert_eq!(
            call("date", &["2024-03-15", "start of month"]),
            t("2024-03-01")
        );
        assert_eq!(
            call("date", &["2024-03-15", "start of year", "-1 day"]),
            t("2023-12-31")
        );
        assert_eq!(call("date", &["2024-03-15", "weekday 0"]), t("2024-03-17"));
        assert_eq!(
            call("datetime", &["1700000000", "unixepoch"]),
            t("2023-11-14 22:13:20")
        );
        assert_eq!(
            call("datetime", &["2024-03-15 10:00", "+01:30"]),
            t("2024-03-15 11:30:00")
        );
        assert_eq!(
            call("datetime", &["2024-03-15 10:00", "-1 year", "+2 hours"]),
            t("2023-03-15 12:00:00")
        );
        assert_eq!(
            call("datetime", &["2024-03-15 10:00", "localtime"]),
            t("2024-03-15 10:00:00")
        );
        assert_eq!(call("date", &["2024-03-15", "bogus"]), Value::Null);
    }
}
