//! `strftime()` and `timediff()`: the two date/time functions that format
//! through broken-down fields rather than a fixed layout.
//!
//! Week numbers follow SQLite: `%W`/`%U` count weeks starting on the first
//! Monday/Sunday of the year (week 00 before it); `%V`/`%G`/`%g` use the
//! ISO 8601 week of the Thursday in the same Monday-based week.

use super::{at, is_date, DateTime, UNIX_EPOCH_JD_MS};
use crate::sql::func::printf::format_text;
use crate::sql::func::FuncContext;
use crate::sql::value::Value;
use crate::Result;

fn days_after_jan01(x: &DateTime) -> i64 {
    let mut jan01 = *x;
    jan01.valid_jd = false;
    jan01.mo = 1;
    jan01.d = 1;
    jan01.compute_jd();
    (x.jd - jan01.jd + 43200000) / 86400000
}

fn days_after_monday(x: &DateTime) -> i64 {
    ((x.jd + 43200000) / 86400000) % 7
}

fn days_after_sunday(x: &DateTime) -> i64 {
    ((x.jd + 129600000) / 86400000) % 7
}

/// The Thursday of x's ISO week (for %G, %g, %V).
fn iso_thursday(x: &DateTime) -> DateTime {
    let mut y = *x;
    y.jd += (3 - days_after_monday(x)) * 86400000;
    y.valid_ymd = false;
    y.compute_ymd();
    y
}

pub(super) fn strftime(args: &[Value], ctx: &mut FuncContext) -> Result<Value> {
    let Some(fmt) = args[0].to_text() else {
        return Ok(Value::Null);
    };
    let Some(mut x) = is_date(&args[1..], ctx) else {
        return Ok(Value::Null);
    };
    x.compute_jd();
    x.compute_ymd_hms();
    let f = fmt.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(f.len() + 8);
    let mut i = 0;
    while i < f.len() {
        if f[i] != b'%' {
            out.push(f[i]);
            i += 1;
            continue;
        }
        i += 1;
        let cf = at(f, i);
        i += 1;
        let piece = match cf {
            b'd' => format!("{:02}", x.d),
            b'e' => format!("{:2}", x.d),
            b'f' => {
                let s = if x.s > 59.999 { 59.999 } else { x.s };
                format_text("%06.3f", &[Value::Real(s)])
            }
            b'F' => format!("{:04}-{:02}-{:02}", x.y, x.mo, x.d),
            b'G' => format!("{:04}", iso_thursday(&x).y),
            b'g' => format!("{:02}", iso_thursday(&x).y % 100),
            b'H' => format!("{:02}", x.h),
            b'k' => format!("{:2}", x.h),
            b'I' | b'l' => {
                let h = if x.h > 12 {
                    x.h - 12
                } else if x.h == 0 {
                    12
                } else {
                    x.h
                };
                if cf == b'I' {
                    format!("{h:02}")
                } else {
                    format!("{h:2}")
                }
            }
            b'j' => format!("{:03}", days_after_jan01(&x) + 1),
            b'J' => format_text("%.16g", &[Value::Real(x.jd as f64 / 86400000.0)]),
            b'm' => format!("{:02}", x.mo),
            b'M' => format!("{:02}", x.mi),
            b'p' => (if x.h >= 12 { "PM" } else { "AM" }).to_string(),
            b'P' => (if x.h >= 12 { "pm" } else { "am" }).to_string(),
            b'R' => format!("{:02}:{:02}", x.h, x.mi),
            b's' => {
                if x.use_subsec {
                    format_text(
                        "%.3f",
                        &[Value::Real((x.jd - UNIX_EPOCH_JD_MS) as f64 / 1000.0)],
                    )
                } else {
                    (x.jd / 1000 - UNIX_EPOCH_JD_MS / 1000).to_string()
                }
            }
            b'S' => format!("{:02}", x.s as i32),
            b'T' => format!("{:02}:{:02}:{:02}", x.h, x.mi, x.s as i32),
            b'u' => {
                let c = days_after_sunday(&x);
                (if c == 0 { 7 } else { c }).to_string()
            }
            b'w' => days_after_sunday(&x).to_string(),
            b'U' => format!(
                "{:02}",
                (days_after_jan01(&x) - days_after_sunday(&x) + 7) / 7
            ),
            b'V' => {
                let y = iso_thursday(&x);
                format!("{:02}", days_after_jan01(&y) / 7 + 1)
            }
            b'W' => format!(
                "{:02}",
                (days_after_jan01(&x) - days_after_monday(&x) + 7) / 7
            ),
            b'Y' => format!("{:04}", x.y),
            b'%' => "%".to_string(),
            _ => return Ok(Value::Null),
        };
        out.extend_from_slice(piece.as_bytes());
    }
    Ok(Value::Text(String::from_utf8_lossy(&out).into_owned()))
}

pub(super) fn timediff(args: &[Value], ctx: &mut FuncContext) -> Result<Value> {
    let (Some(mut d1), Some(mut d2)) = (is_date(&args[..1], ctx), is_date(&args[1..2], ctx)) else {
        return Ok(Value::Null);
    };
    d1.compute_ymd_hms();
    d2.compute_ymd_hms();
    let sign;
    let (mut y, mut m);
    let reset = |d: &mut DateTime| {
        d.valid_jd = false;
        d.compute_jd();
    };
    if d1.jd >= d2.jd {
        sign = '+';
        y = d1.y - d2.y;
        if y != 0 {
            d2.y = d1.y;
            reset(&mut d2);
        }
        m = d1.mo - d2.mo;
        if m < 0 {
            y -= 1;
            m += 12;
        }
        if m != 0 {
            d2.mo = d1.mo;
            reset(&mut d2);
        }
        while d1.jd < d2.jd {
            m -= 1;
            if m < 0 {
                m = 11;
                y -= 1;
            }
            d2.mo -= 1;
            if d2.mo < 1 {
                d2.mo = 12;
                d2.y -= 1;
            }
            reset(&mut d2);
        }
        d1.jd -= d2.jd;
    } else {
        sign = '-';
        y = d2.y - d1.y;
        if y != 0 {
            d2.y = d1.y;
            reset(&mut d2);
        }
        m = d2.mo - d1.mo;
        if m < 0 {
            y -= 1;
            m += 12;
        }
        if m != 0 {
            d2.mo = d1.mo;
            reset(&mut d2);
        }
        while d1.jd > d2.jd {
            m -= 1;
            if m < 0 {
                m = 11;
                y -= 1;
            }
            d2.mo += 1;
            if d2.mo > 12 {
                d2.mo = 1;
                d2.y += 1;
            }
            reset(&mut d2);
        }
        d1.jd = d2.jd - d1.jd;
    }
    d1.jd += 148_699_540_800_000;
    d1.clear_ymd_hms_tz();
    d1.compute_ymd_hms();
    let secs = format_text("%06.3f", &[Value::Real(d1.s)]);
    Ok(Value::Text(format!(
        "{sign}{y:04}-{m:02}-{:02} {:02}:{:02}:{secs}",
        d1.d - 1,
        d1.h,
        d1.mi
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(f: fn(&[Value], &mut FuncContext) -> Result<Value>, args: &[&str]) -> Value {
        let args: Vec<Value> = args.iter().map(|s| Value::Text(s.to_string())).collect();
        f(&args, &mut FuncContext::default()).expect("no error")
    }
    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn strftime_conversions() {
        let fmt = "%Y/%m/%d %H:%M:%S %j %w %u %W %U %V %G %g %I %p %k %l %e %F %R %T %%";
        assert_eq!(
            call(strftime, &[fmt, "2024-03-15 01:20:30"]),
            t("2024/03/15 01:20:30 075 5 5 11 10 11 2024 24 01 AM  1  1 15 2024-03-15 01:20 01:20:30 %")
        );
        assert_eq!(call(strftime, &["%s", "2024-03-15"]), t("1710460800"));
        assert_eq!(call(strftime, &["%f", "10:20:30.125"]), t("30.125"));
        assert_eq!(call(strftime, &["%V %G", "2021-01-01"]), t("53 2020"));
        assert_eq!(call(strftime, &["%Q", "2024-03-15"]), Value::Null);
    }

    #[test]
    fn timediff_borrows_months() {
        assert_eq!(
            call(timediff, &["2024-03-15", "2024-01-01"]),
            t("+0000-02-14 00:00:00.000")
        );
        assert_eq!(
            call(timediff, &["2024-01-01", "2024-03-15 12:00"]),
            t("-0000-02-14 12:00:00.000")
        );
        assert_eq!(
            call(timediff, &["2024-03-31", "2024-02-29"]),
            t("+0000-01-02 00:00:00.000")
        );
    }
}
