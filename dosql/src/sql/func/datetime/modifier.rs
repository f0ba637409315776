//! Date/time modifiers (`parseModifier` of SQLite's date.c): each one
//! rewrites the [`DateTime`](super::DateTime) in place or fails.

use super::{at, get_digits, DateTime, UNIX_EPOCH_JD_MS};
use crate::sql::value::num::{atof, is_space};

/// (name, limit, seconds per unit) for `±N unit` modifiers.
const XFORM: [(&str, f64, f64); 6] = [
    ("second", 4.6427e14, 1.0),
    ("minute", 7.7379e12, 60.0),
    ("hour", 1.2897e11, 3600.0),
    ("day", 5373485.0, 86400.0),
    ("month", 176546.0, 30.0 * 86400.0),
    ("year", 14713.0, 365.0 * 86400.0),
];

fn eq(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

fn auto_adjust(p: &mut DateTime) {
    if !p.raw_s || p.valid_jd {
        p.raw_s = false;
    } else if p.s >= -210866760000.0 && p.s <= 253402300799.0 {
        let r = p.s * 1000.0 + 210866760000000.0;
        p.clear_ymd_hms_tz();
        p.jd = (r + 0.5) as i64;
        p.valid_jd = true;
        p.raw_s = false;
    }
}

fn normalize_month(p: &mut DateTime) {
    let x = if p.mo > 0 {
        (p.mo - 1) / 12
    } else {
        (p.mo - 12) / 12
    };
    p.y += x;
    p.mo -= x * 12;
}

/// Applies modifier `z` (argument number `idx`); true on failure.
pub(super) fn parse_modifier(z: &[u8], p: &mut DateTime, idx: usize) -> bool {
    let first = at(z, 0).to_ascii_lowercase();
    match first {
        b'a' if eq(z, "auto") => {
            if idx > 1 {
                return true;
            }
            auto_adjust(p);
            false
        }
        b'c' if eq(z, "ceiling") => {
            p.compute_jd();
            p.clear_ymd_hms_tz();
            p.n_floor = 0;
            false
        }
        b'f' if eq(z, "floor") => {
            p.compute_jd();
            p.jd -= p.n_floor as i64 * 86400000;
            p.clear_ymd_hms_tz();
            false
        }
        b'j' if eq(z, "julianday") => {
            if idx > 1 {
                return true;
            }
            if p.valid_jd && p.raw_s {
                p.raw_s = false;
                return false;
            }
            true
        }
        b'l' if eq(z, "localtime") => {
            if !p.is_local {
                p.convert_to_localtime();
            }
            p.is_utc = false;
            p.is_local = true;
            false
        }
        b'u' if eq(z, "unixepoch") && p.raw_s => {
            if idx > 1 {
                return true;
            }
            let r = p.s * 1000.0 + UNIX_EPOCH_JD_MS as f64;
            if (0.0..464269060800000.0).contains(&r) {
                p.clear_ymd_hms_tz();
                p.jd = (r + 0.5) as i64;
                p.valid_jd = true;
                p.raw_s = false;
                return false;
            }
            true
        }
        b'u' if eq(z, "utc") => {
            if !p.is_utc {
                // Local time is UTC: the instant does not move.
                p.compute_jd();
                let jd = p.jd;
                *p = DateTime {
                    jd,
                    valid_jd: true,
                    is_utc: true,
                    ..DateTime::default()
                };
            }
            false
        }
        b'w' => weekday(z, p),
        b's' => start_of(z, p),
        b'+' | b'-' | b'0'..=b'9' => offset(z, p),
        _ => true,
    }
}

fn weekday(z: &[u8], p: &mut DateTime) -> bool {
    if z.len() < 8 || !eq(&z[..8], "weekday ") {
        return true;
    }
    let (r, rc) = atof(&z[8..]);
    if rc <= 0 || !(0.0..7.0).contains(&r) || r.fract() != 0.0 {
        return true;
    }
    let n = r as i64;
    p.compute_ymd_hms();
    p.tz = 0;
    p.valid_jd = false;
    p.compute_jd();
    let mut day = ((p.jd + 129600000) / 86400000) % 7;
    if day > n {
        day -= 7;
    }
    p.jd += (n - day) * 86400000;
    p.clear_ymd_hms_tz();
    false
}

fn start_of(z: &[u8], p: &mut DateTime) -> bool {
    if z.len() < 9 || !eq(&z[..9], "start of ") {
        if eq(z, "subsec") || eq(z, "subsecond") {
            p.use_subsec = true;
            return false;
        }
        return true;
    }
    if !p.valid_jd && !p.valid_ymd && !p.valid_hms {
        return true;
    }
    let unit = &z[9..];
    p.compute_ymd();
    p.valid_hms = true;
    p.h = 0;
    p.mi = 0;
    p.s = 0.0;
    p.raw_s = false;
    p.tz = 0;
    p.valid_jd = false;
    if eq(unit, "month") {
        p.d = 1;
        false
    } else if eq(unit, "year") {
        p.mo = 1;
        p.d = 1;
        false
    } else {
        !eq(unit, "day")
    }
}

/// `±N units`, `±HH:MM[:SS]`, `±YYYY-MM-DD[ HH:MM[:SS]]`.
fn offset(z: &[u8], p: &mut DateTime) -> bool {
    let z0 = z[0];
    let mut n = 1;
    let mut v = [0; 3];
    while n < z.len() {
        let c = z[n];
        if c == b':' || is_space(c) {
            break;
        }
        if c == b'-' {
            if n == 5 && get_digits(&z[1..], &[(4, 0, 9999, 0)], &mut v) == 1 {
                break;
            }
            if n == 6 && get_digits(&z[1..], &[(5, 0, 14712, 0)], &mut v) == 1 {
                break;
            }
        }
        n += 1;
    }
    let (mut r, rc) = atof(&z[..n]);
    if rc <= 0 {
        return true;
    }
    let mut z = z;
    let mut z2: &[u8] = z;
    if at(z, n) == b'-' {
        if z0 != b'+' && z0 != b'-' {
            return true;
        }
        let ok = if n == 5 {
            get_digits(
                &z[1..],
                &[(4, 0, 9999, b'-'), (2, 0, 11, b'-'), (2, 0, 30, 0)],
                &mut v,
            ) == 3
        } else {
            let g = get_digits(
                &z[1..],
                &[(5, 0, 14712, b'-'), (2, 0, 11, b'-'), (2, 0, 30, 0)],
                &mut v,
            ) == 3;
            z = &z[1..];
            g
        };
        if !ok {
            return true;
        }
        let (y, m, mut d) = (v[0], v[1], v[2]);
        p.compute_ymd_hms();
        p.valid_jd = false;
        if z0 == b'-' {
            p.y -= y;
            p.mo -= m;
            d = -d;
        } else {
            p.y += y;
            p.mo += m;
        }
        normalize_month(p);
        p.compute_floor();
        p.compute_jd();
        p.valid_hms = false;
        p.valid_ymd = false;
        p.jd += d as i64 * 86400000;
        if at(z, 11) == 0 {
            return false;
        }
        let mut hm = [0; 2];
        if is_space(at(z, 11))
            && get_digits(
                &z[12.min(z.len())..],
                &[(2, 0, 24, b':'), (2, 0, 59, 0)],
                &mut hm,
            ) == 2
        {
            z2 = &z[12..];
            n = 2;
        } else {
            return true;
        }
    }
    if at(z2, n) == b':' {
        let mut zz = z2;
        if !at(zz, 0).is_ascii_digit() {
            zz = &zz[1..];
        }
        let mut tx = DateTime::default();
        if tx.parse_hms(zz) {
            return true;
        }
        tx.compute_jd();
        tx.jd -= 43200000;
        let day = tx.jd / 86400000;
        tx.jd -= day * 86400000;
        if z0 == b'-' {
            tx.jd = -tx.jd;
        }
        p.compute_jd();
        p.clear_ymd_hms_tz();
        p.jd += tx.jd;
        return false;
    }
    // "±N unit[s]"
    let mut rest = &z[n.min(z.len())..];
    while !rest.is_empty() && is_space(rest[0]) {
        rest = &rest[1..];
    }
    let mut len = rest.len();
    if !(3..=10).contains(&len) {
        return true;
    }
    if rest[len - 1].eq_ignore_ascii_case(&b's') {
        len -= 1;
    }
    let unit = &rest[..len];
    p.compute_jd();
    let rounder = if r < 0.0 { -0.5 } else { 0.5 };
    p.n_floor = 0;
    let mut rc = true;
    for (i, &(name, limit, xform)) in XFORM.iter().enumerate() {
        if name.len() == len && eq(unit, name) && r > -limit && r < limit {
            match i {
                4 => {
                    p.compute_ymd_hms();
                    p.mo += r as i32;
                    normalize_month(p);
                    p.compute_floor();
                    p.valid_jd = false;
                    r -= (r as i32) as f64;
                }
                5 => {
                    p.compute_ymd_hms();
                    p.y += r as i32;
                    p.compute_floor();
                    p.valid_jd = false;
                    r -= (r as i32) as f64;
                }
                _ => {}
            }
            p.compute_jd();
            p.jd += (r * 1000.0 * xform + rounder) as i64;
            rc = false;
            break;
        }
    }
    p.clear_ymd_hms_tz();
    rc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_noon(ymd: (i32, i32, i32)) -> DateTime {
        DateTime {
            y: ymd.0,
            mo: ymd.1,
            d: ymd.2,
            h: 12,
            valid_ymd: true,
            valid_hms: true,
            ..DateTime::default()
        }
    }

    fn ymd(mut p: DateTime) -> (i32, i32, i32, i32) {
        p.compute_ymd_hms();
        (p.y, p.mo, p.d, p.h)
    }

    #[test]
    fn offsets_and_starts() {
        let mut p = at_noon((2024, 1, 31));
        assert!(!parse_modifier(b"+1 month", &mut p, 1));
        assert_eq!(ymd(p), (2024, 3, 2, 12));
        assert!(!parse_modifier(b"-36 hours", &mut p, 2));
        assert_eq!(ymd(p), (2024, 3, 1, 0));
        assert!(!parse_modifier(b"start of year", &mut p, 3));
        assert_eq!(ymd(p), (2024, 1, 1, 0));
        assert!(!parse_modifier(b"+0001-02-03 04:00", &mut p, 4));
        assert_eq!(ymd(p), (2025, 3, 4, 4));
        assert!(!parse_modifier(b"weekday 1", &mut p, 5));
        assert_eq!(ymd(p), (2025, 3, 10, 4));
    }

    #[test]
    fn rejects_bad_modifiers() {
        let mut p = at_noon((2024, 1, 1));
        for bad in [
            &b"bogus"[..],
            b"+1 fortnight",
            b"weekday 7",
            b"start of week",
            b"unixepoch",
            b"+ 1 day",
        ] {
            assert!(
                parse_modifier(bad, &mut p, 1),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut raw = DateTime::default();
        raw.set_raw_number(0.0);
        assert!(
            parse_modifier(b"auto", &mut raw, 2),
            "auto must be the first modifier"
        );
    }
}
