//! `printf(FORMAT, ...)` / `format(...)`: a port of SQLite's
//! `sqlite3_str_vappendf` in its SQL-function mode.
//!
//! A conversion is `%[flags][width][.precision]type`:
//!
//! ```text
//!   flags  - left-justify   + force sign   ' ' space for sign
//!          # alternate form 0 zero pad     , thousands   ! alternate-2
//!   type   d i u  x X o  f e E g G  s z q Q w  c  %   (n p T S r: see below)
//! ```
//!
//! Arguments are consumed left to right and coerced the way SQLite does
//! (`sqlite3_value_int64`, `_double`, `_text`); a missing argument reads as
//! 0, 0.0 or NULL. An unknown conversion character ends the output there,
//! as in SQLite. The `!` flag makes `%s/%q/%Q/%w/%c` count width and
//! precision in characters instead of bytes, and for reals gives up to 26
//! significant digits and keeps a `.0`. Output bytes that are not UTF-8
//! (a byte precision cutting a character) are replaced by U+FFFD.

use super::{too_big, MAX_LENGTH};
use crate::sql::value::num::{fp_decode, FloatFlags};
use crate::sql::value::Value;
use crate::Result;

const DIGITS: &[u8; 32] = b"0123456789ABCDEF0123456789abcdef";

/// Cursor over the SQL arguments of one printf call.
struct Args<'a> {
    args: &'a [Value],
    used: usize,
}

impl<'a> Args<'a> {
    fn next(&mut self) -> Option<&'a Value> {
        let v = self.args.get(self.used);
        if v.is_some() {
            self.used += 1;
        }
        v
    }
    fn int(&mut self) -> i64 {
        self.next().and_then(Value::to_integer).unwrap_or(0)
    }
    fn real(&mut self) -> f64 {
        self.next().and_then(Value::to_real).unwrap_or(0.0)
    }
    fn text(&mut self) -> Option<String> {
        self.next().and_then(Value::to_text)
    }
}

/// Formats `fmt` with SQL arguments exactly as SQLite's `printf()` does.
/// Returns None (SQL NULL) when nothing at all was emitted, as SQLite does
/// for an empty format or one starting with an unknown conversion; fails
/// when the result would exceed the maximum string length.
pub fn sql_printf(fmt: &str, args: &[Value]) -> Result<Option<String>> {
    let mut out: Vec<u8> = Vec::with_capacity(fmt.len() + 16);
    let f = fmt.as_bytes();
    let mut args = Args { args, used: 0 };
    let mut touched = false;
    let mut i = 0;
    while i < f.len() {
        if f[i] != b'%' {
            let start = i;
            while i < f.len() && f[i] != b'%' {
                i += 1;
            }
            out.extend_from_slice(&f[start..i]);
            touched = true;
            continue;
        }
        i += 1;
        if i >= f.len() {
            out.push(b'%');
            touched = true;
            break;
        }
        if !conversion(f, &mut i, &mut args, &mut out)? {
            break;
        }
        touched = true;
    }
    if !touched {
        return Ok(None);
    }
    Ok(Some(String::from_utf8(out).unwrap_or_else(|e| {
        String::from_utf8_lossy(e.as_bytes()).into_owned()
    })))
}

/// `sql_printf` for internal formats that always produce text.
pub(crate) fn format_text(fmt: &str, args: &[Value]) -> String {
    sql_printf(fmt, args).ok().flatten().unwrap_or_default()
}

/// Renders one conversion starting at `f[*i]` (just past the '%'). Returns
/// false when output must stop (unknown conversion).
fn conversion(f: &[u8], i: &mut usize, args: &mut Args, out: &mut Vec<u8>) -> Result<bool> {
    let mut fl = FloatFlags::default();
    let mut precision: i64 = -1;
    let mut width: i64 = 0;
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    let mut c;
    // Flags, width and precision, following the C state machine.
    loop {
        c = at(*i);
        match c {
            b'-' => fl.left = true,
            b'+' => fl.prefix = b'+',
            b' ' => fl.prefix = b' ',
            b'#' => fl.alternate = true,
            b'!' => fl.altform2 = true,
            b'0' => fl.zeropad = true,
            b',' => fl.thousands = true,
            b'l' => {
                *i += 1;
                if at(*i) == b'l' {
                    *i += 1;
                }
                c = at(*i);
                break;
            }
            b'1'..=b'9' => {
                let mut wx: i64 = 0;
                while at(*i).is_ascii_digit() {
                    wx = (wx * 10 + (at(*i) - b'0') as i64) & 0x7fff_ffff;
                    *i += 1;
                }
                width = wx;
                c = at(*i);
                if c != b'.' && c != b'l' {
                    break;
                }
                continue;
            }
            b'*' => {
                let w = args.int() as i32 as i64;
                if w < 0 {
                    fl.left = true;
                    width = if w >= -2147483647 { -w } else { 0 };
                } else {
                    width = w.min(0x7fff_ffff);
                }
                if at(*i + 1) != b'.' && at(*i + 1) != b'l' {
                    *i += 1;
                    c = at(*i);
                    break;
                }
            }
            b'.' => {
                *i += 1;
                c = at(*i);
                if c == b'*' {
                    let p = args.int() as i32 as i64;
                    precision = if p < 0 {
                        if p >= -2147483647 {
                            -p
                        } else {
                            -1
                        }
                    } else {
                        p.min(0x7fff_ffff)
                    };
                    *i += 1;
                    c = at(*i);
                } else {
                    let mut px: i64 = 0;
                    while c.is_ascii_digit() {
                        px = (px * 10 + (c - b'0') as i64) & 0x7fff_ffff;
                        *i += 1;
                        c = at(*i);
                    }
                    precision = px;
                }
                if c == b'l' {
                    continue;
                }
                break;
            }
            _ => break,
        }
        *i += 1;
        if at(*i) == 0 && *i >= f.len() {
            c = 0;
            break;
        }
    }
    *i += 1;
    // SQLite fails with SQLITE_TOOBIG past its length limit; checking up
    // front also keeps a hostile format from allocating gigabytes.
    if width + precision.max(0) + out.len() as i64 > MAX_LENGTH {
        return Err(too_big());
    }
    let width = width as usize;
    let mut buf: Vec<u8> = Vec::new();
    let mut width = width;
    let mut chars_mode = false;
    match c {
        b'd' | b'i' | b'u' | b'x' | b'X' | b'o' | b'p' | b'r' => {
            let (base, signed, charset, pre): (u64, bool, usize, &[u8]) = match c {
                b'd' | b'i' => (10, true, 0, b""),
                b'r' => (10, true, 0, b""),
                b'u' => (10, false, 0, b""),
                b'x' => (16, false, 16, b"0x"),
                b'X' => (16, false, 0, b"0X"),
                b'p' => (16, false, 0, b"0x"),
                _ => (8, false, 0, b"0"),
            };
            let thousands = fl.thousands && matches!(c, b'd' | b'i' | b'u');
            let v = args.int();
            let (mut long, prefix) = if signed && v < 0 {
                ((v as u64).wrapping_neg(), b'-')
            } else if signed {
                (v as u64, fl.prefix)
            } else {
                (v as u64, 0)
            };
            let mut alternate = fl.alternate;
            if long == 0 {
                alternate = false;
            }
            let mut precision = precision;
            if fl.zeropad && precision < width as i64 - (prefix != 0) as i64 {
                precision = width as i64 - (prefix != 0) as i64;
            }
            let mut digits: Vec<u8> = Vec::new();
            if c == b'r' {
                let x = (long % 10) as usize;
                let x = if x >= 4 || (long / 10) % 10 == 1 {
                    0
                } else {
                    x
                };
                let ord = b"thstndrd";
                digits.push(ord[x * 2 + 1]);
                digits.push(ord[x * 2]);
            }
            loop {
                digits.push(DIGITS[charset + (long % base) as usize]);
                long /= base;
                if long == 0 {
                    break;
                }
            }
            let mut length = digits.len();
            while (precision as usize) > length && precision > 0 {
                digits.push(b'0');
                length += 1;
            }
            // digits is reversed; insert thousands separators on the number part.
            if thousands {
                let mut with = Vec::with_capacity(digits.len() * 4 / 3 + 1);
                for (k, d) in digits.iter().enumerate() {
                    if k > 0 && k % 3 == 0 {
                        with.push(b',');
                    }
                    with.push(*d);
                }
                digits = with;
            }
            if prefix != 0 {
                digits.push(prefix);
            }
            if alternate {
                digits.extend(pre.iter().rev());
            }
            digits.reverse();
            buf = digits;
        }
        b'f' | b'e' | b'E' | b'g' | b'G' => {
            let r = args.real();
            fl.width = width;
            format_float(&mut buf, r, c, precision, fl);
            width = 0;
        }
        b'n' => width = 0,
        b'%' => buf.push(b'%'),
        b'c' => {
            let t = args.text();
            // An empty or NULL argument renders as one NUL byte, as in SQLite.
            let ch: Vec<u8> = match t.as_deref().and_then(|s| s.chars().next()) {
                Some(c) => c.to_string().into_bytes(),
                None => vec![0],
            };
            if precision > 1 {
                let reps = precision as usize;
                width = width.saturating_sub(reps - 1);
                if width > 1 && !fl.left {
                    out.extend(std::iter::repeat_n(b' ', width - 1));
                    width = 0;
                }
                for _ in 1..reps {
                    out.extend_from_slice(&ch);
                }
            }
            buf = ch;
            chars_mode = true;
        }
        b's' | b'z' => {
            let t = args.text().unwrap_or_default();
            let bytes = t.as_bytes();
            let len = if precision >= 0 {
                if fl.altform2 {
                    t.char_indices()
                        .nth(precision as usize)
                        .map(|(k, _)| k)
                        .unwrap_or(bytes.len())
                } else {
                    bytes.len().min(precision as usize)
                }
            } else {
                bytes.len()
            };
            buf.extend_from_slice(&bytes[..len]);
            chars_mode = fl.altform2;
        }
        b'q' | b'Q' | b'w' => {
            let q = if c == b'w' { b'"' } else { b'\'' };
            let t = args.text();
            let isnull = t.is_none();
            let s = t.unwrap_or_else(|| {
                if c == b'Q' {
                    "NULL".into()
                } else {
                    "(NULL)".into()
                }
            });
            let s = s.as_bytes();
            let mut k = precision;
            let mut n = 0;
            while k != 0 && n < s.len() {
                if fl.altform2 && s[n] & 0xc0 == 0xc0 {
                    while n + 1 < s.len() && s[n + 1] & 0xc0 == 0x80 {
                        n += 1;
                    }
                }
                n += 1;
                k -= 1;
            }
            let quote = !isnull && c == b'Q';
            if quote {
                buf.push(q);
            }
            for &ch in &s[..n] {
                buf.push(ch);
                if ch == q {
                    buf.push(ch);
                }
            }
            if quote {
                buf.push(q);
            }
            chars_mode = fl.altform2;
        }
        _ => return Ok(false),
    }
    if chars_mode && width > 0 {
        width += buf.iter().filter(|&&b| b & 0xc0 == 0x80).count();
    }
    if width > buf.len() {
        let pad = width - buf.len();
        if !fl.left {
            out.extend(std::iter::repeat_n(b' ', pad));
        }
        out.extend_from_slice(&buf);
        if fl.left {
            out.extend(std::iter::repeat_n(b' ', pad));
        }
    } else {
        out.extend_from_slice(&buf);
    }
    Ok(true)
}

/// Renders a real with conversion `xtype` (`f e E g G`) like SQLite,
/// including zero padding to `fl.width` (other padding is the caller's).
pub(crate) fn format_float(out: &mut Vec<u8>, r: f64, xtype: u8, precision: i64, fl: FloatFlags) {
    let mut precision = if precision < 0 {
        6
    } else {
        precision.min(MAX_LENGTH)
    } as i32;
    let charset_e = if xtype == b'E' || xtype == b'G' {
        b'E'
    } else {
        b'e'
    };
    let mut kind = match xtype {
        b'f' => b'f',
        b'e' | b'E' => b'e',
        _ => b'g',
    };
    let iround = match kind {
        b'f' => -precision,
        b'g' => {
            if precision == 0 {
                precision = 1;
            }
            precision
        }
        _ => precision + 1,
    };
    let s = fp_decode(r, iround, if fl.altform2 { 26 } else { 16 });
    let mut buf: Vec<u8> = Vec::new();
    let mut digits = s.digits.clone();
    let mut idp = s.idp;
    if s.special != 0 {
        if s.special == 2 {
            buf.extend_from_slice(if fl.zeropad { b"null" } else { b"NaN" });
            pad_out(out, buf, fl);
            return;
        } else if fl.zeropad {
            digits = vec![b'9'];
            idp = 1000;
        } else {
            if s.neg {
                buf.push(b'-');
            } else if fl.prefix != 0 {
                buf.push(fl.prefix);
            }
            buf.extend_from_slice(b"Inf");
            pad_out(out, buf, fl);
            return;
        }
    }
    let prefix = if s.neg { b'-' } else { fl.prefix };
    let exp = idp - 1;
    let flag_rtz;
    if kind == b'g' {
        precision -= 1;
        flag_rtz = !fl.alternate;
        if exp < -4 || exp > precision {
            kind = b'e';
        } else {
            precision -= exp;
            kind = b'f';
        }
    } else {
        flag_rtz = fl.altform2;
    }
    let mut e2 = if kind == b'e' { 0 } else { idp - 1 };
    let flag_dp = precision > 0 || fl.alternate || fl.altform2;
    if prefix != 0 {
        buf.push(prefix);
    }
    let mut j = 0;
    let next_digit = |j: &mut usize| {
        let d = digits.get(*j).copied().unwrap_or(b'0');
        if *j < digits.len() {
            *j += 1;
        }
        d
    };
    if e2 < 0 {
        buf.push(b'0');
    } else {
        while e2 >= 0 {
            buf.push(next_digit(&mut j));
            if fl.thousands && e2 % 3 == 0 && e2 > 1 {
                buf.push(b',');
            }
            e2 -= 1;
        }
    }
    if flag_dp {
        buf.push(b'.');
    }
    e2 += 1;
    while e2 < 0 && precision > 0 {
        buf.push(b'0');
        precision -= 1;
        e2 += 1;
    }
    while precision > 0 {
        buf.push(next_digit(&mut j));
        precision -= 1;
    }
    if flag_rtz && flag_dp {
        while buf.last() == Some(&b'0') {
            buf.pop();
        }
        if buf.last() == Some(&b'.') {
            if fl.altform2 {
                buf.push(b'0');
            } else {
                buf.pop();
            }
        }
    }
    if kind == b'e' {
        let mut exp = idp - 1;
        buf.push(charset_e);
        if exp < 0 {
            buf.push(b'-');
            exp = -exp;
        } else {
            buf.push(b'+');
        }
        if exp >= 100 {
            buf.push(b'0' + (exp / 100) as u8);
            exp %= 100;
        }
        buf.push(b'0' + (exp / 10) as u8);
        buf.push(b'0' + (exp % 10) as u8);
    }
    if fl.zeropad && !fl.left && buf.len() < fl.width {
        let pad = fl.width - buf.len();
        let at = (prefix != 0) as usize;
        buf.splice(at..at, std::iter::repeat_n(b'0', pad));
    }
    pad_out(out, buf, fl);
}

fn pad_out(out: &mut Vec<u8>, buf: Vec<u8>, fl: FloatFlags) {
    let pad = fl.width.saturating_sub(buf.len());
    if !fl.left {
        out.extend(std::iter::repeat_n(b' ', pad));
    }
    out.extend_from_slice(&buf);
    if fl.left {
        out.extend(std::iter::repeat_n(b' ', pad));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(fmt: &str, args: &[Value]) -> String {
        sql_printf(fmt, args)
            .unwrap()
            .unwrap_or_else(|| "<NULL>".into())
    }

    #[test]
    fn integers() {
        let v = [Value::Integer(42)];
        assert_eq!(p("%d", &v), "42");
        assert_eq!(
            p(
                "%5d|%-5d|%05d",
                &[Value::Integer(42), Value::Integer(42), Value::Integer(-42)]
            ),
            "   42|42   |-0042"
        );
        assert_eq!(
            p("%+d % d", &[Value::Integer(5), Value::Integer(5)]),
            "+5  5"
        );
        assert_eq!(
            p(
                "%x %X %o %#x %#o",
                &[
                    Value::Integer(255),
                    Value::Integer(255),
                    Value::Integer(8),
                    Value::Integer(255),
                    Value::Integer(8)
                ]
            ),
            "ff FF 10 0xff 010"
        );
        assert_eq!(p("%,d", &[Value::Integer(1234567)]), "1,234,567");
        assert_eq!(p("%.5d", &v), "00042");
        assert_eq!(p("%d", &[Value::Text("12abc".into())]), "12");
        assert_eq!(p("%d %d", &v), "42 0");
        assert_eq!(p("%u", &[Value::Integer(-1)]), "18446744073709551615");
    }

    #[test]
    fn reals() {
        let r = |x: f64| [Value::Real(x)];
        assert_eq!(p("%f", &r(3.25159)), "3.251590");
        // 2.675 is 2.67499999999999982236431605997495353221893310546875.
        assert_eq!(p("%.2f", &r(2.675)), "2.67");
        assert_eq!(p("%e", &r(12345.678)), "1.234568e+04");
        assert_eq!(p("%g", &r(0.0001)), "0.0001");
        assert_eq!(p("%g", &r(1e-5)), "1e-05");
        assert_eq!(p("%g", &r(100000.0)), "100000");
        assert_eq!(p("%g", &r(1000000.0)), "1e+06");
        assert_eq!(p("%!.15g", &r(1.0)), "1.0");
        assert_eq!(
            p(
                "%10.3f|%-10.3f|%010.3f",
                &[Value::Real(-1.5), Value::Real(1.5), Value::Real(-1.5)]
            ),
            "    -1.500|1.500     |-00001.500"
        );
        assert_eq!(p("%f", &[Value::Real(f64::INFINITY)]), "Inf");
        assert_eq!(p("%.0f", &r(0.5)), "1");
        assert_eq!(p("%.1f", &r(0.05)), "0.1");
    }

    #[test]
    fn strings() {
        let s = |x: &str| [Value::Text(x.into())];
        assert_eq!(
            p(
                "%s|%5s|%-5s|%.2s",
                &[
                    Value::Text("abc".into()),
                    Value::Text("ab".into()),
                    Value::Text("ab".into()),
                    Value::Text("abc".into())
                ]
            ),
            "abc|   ab|ab   |ab"
        );
        assert_eq!(p("%q", &s("it's")), "it''s");
        assert_eq!(p("%Q", &s("it's")), "'it''s'");
        assert_eq!(p("%Q", &[Value::Null]), "NULL");
        assert_eq!(p("%w", &s("a\"b")), "a\"\"b");
        assert_eq!(p("%c", &s("xyz")), "x");
        assert_eq!(p("%%|%", &[]), "%|%");
        assert_eq!(p("a%yb", &[]), "a");
        assert_eq!(p("%yb", &[]), "<NULL>");
        assert_eq!(p("", &[]), "<NULL>");
        assert!(sql_printf("%*d", &[Value::Integer(2_000_000_000)]).is_err());
        assert_eq!(p("%!5s|", &s("é")), "    é|");
        assert_eq!(p("%5s|", &s("é")), "   é|");
    }
}
