//! SQLite's numeric conversions, reproduced so that results format exactly
//! as the reference runner printed them.
//!
//! The expected results of the corpus were produced by SQLite's own
//! sqllogictest driver (`slt_sqlite.c`), which formats a column with
//! `sqlite3_column_int` (I), `sqlite3_column_double` + `"%.3f"` (R) or
//! `sqlite3_column_text` (T). Those calls go through SQLite's private
//! number code, which differs from C's and Rust's in ways that show up in
//! results:
//!
//! | conversion                | SQLite routine      | notable behaviour                          |
//! |---------------------------|---------------------|--------------------------------------------|
//! | text -> integer           | `sqlite3Atoi64`     | longest integer prefix, saturates at i64   |
//! | text -> real              | `sqlite3AtoF`       | longest numeric prefix, `0.0` if none      |
//! | real -> integer           | `sqlite3RealToI64`  | truncates toward zero, saturates           |
//! | real -> `%.3f` and `%!.15g` | `sqlite3FpDecode` | at most 16 (resp. 26) significant digits, half-up rounding, `-0.0` prints as `0` |
//!
//! Real formatting works on the exact decimal expansion of the double (30
//! significant digits from Rust's exact formatter) and then applies
//! `sqlite3FpDecode`'s rounding rules. SQLite computes those digits in
//! 80-bit long double instead, so the two can disagree only when the digits
//! past the rounding position sit within about 1e-18 (relative) of a
//! half-way point.

/// Whitespace as `sqlite3Isspace` sees it: space, `\t`, `\n`, `\v`, `\f`, `\r`.
fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Text to integer as `sqlite3Atoi64` does it for `sqlite3_column_int64`
/// and `CAST(x AS INTEGER)`: skip leading whitespace, take an optional sign
/// and the longest run of decimal digits, ignore the rest; no digits gives 0;
/// magnitudes beyond i64 saturate to `i64::MIN`/`i64::MAX` by sign.
pub fn text_to_i64(text: &[u8]) -> i64 {
    let mut rest = text;
    while let [first, tail @ ..] = rest {
        if !is_space(*first) {
            break;
        }
        rest = tail;
    }
    let mut negative = false;
    if let [sign @ (b'-' | b'+'), tail @ ..] = rest {
        negative = *sign == b'-';
        rest = tail;
    }
    // u128 with saturation cannot wrap, and anything above 2^63 saturates
    // the same way SQLite's 19-digit comparison does.
    let mut magnitude: u128 = 0;
    for &byte in rest.iter().take_while(|b| b.is_ascii_digit()) {
        magnitude = (magnitude * 10 + u128::from(byte - b'0')).min(u128::from(u64::MAX));
    }
    if negative {
        if magnitude >= 1u128 << 63 {
            i64::MIN
        } else {
            -(magnitude as i64)
        }
    } else if magnitude > i64::MAX as u128 {
        i64::MAX
    } else {
        magnitude as i64
    }
}

/// Text to real as `sqlite3AtoF` does it for `sqlite3_column_double`: the
/// longest prefix of the form `[space][sign]digits[.digits][e[sign]digits]`
/// after leading whitespace; no digits gives `0.0` (`-0.0` after a minus).
/// An `e` without exponent digits is ignored, as in SQLite.
pub fn text_to_f64(text: &[u8]) -> f64 {
    let mut i = 0;
    while i < text.len() && is_space(text[i]) {
        i += 1;
    }
    let mut literal = String::with_capacity(32);
    if i < text.len() && (text[i] == b'-' || text[i] == b'+') {
        if text[i] == b'-' {
            literal.push('-');
        }
        i += 1;
    }
    let int_start = i;
    while i < text.len() && text[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = &text[int_start..i];
    let mut frac_digits: &[u8] = &[];
    if i < text.len() && text[i] == b'.' {
        let frac_start = i + 1;
        i = frac_start;
        while i < text.len() && text[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = &text[frac_start..i];
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return if literal.starts_with('-') { -0.0 } else { 0.0 };
    }
    literal.push_str(std::str::from_utf8(int_digits).expect("ASCII digits"));
    if int_digits.is_empty() {
        literal.push('0');
    }
    literal.push('.');
    literal.push_str(std::str::from_utf8(frac_digits).expect("ASCII digits"));
    literal.push('0');
    if i < text.len() && (text[i] == b'e' || text[i] == b'E') {
        let mut j = i + 1;
        let mut exponent_negative = false;
        if j < text.len() && (text[j] == b'-' || text[j] == b'+') {
            exponent_negative = text[j] == b'-';
            j += 1;
        }
        let exp_start = j;
        // SQLite clamps the exponent at 10000, far beyond f64's range, so
        // the clamp only keeps the literal short.
        let mut exponent: u32 = 0;
        while j < text.len() && text[j].is_ascii_digit() {
            exponent = (exponent * 10 + u32::from(text[j] - b'0')).min(10_000);
            j += 1;
        }
        if j > exp_start {
            literal.push('e');
            if exponent_negative {
                literal.push('-');
            }
            literal.push_str(&exponent.to_string());
        }
    }
    literal
        .parse()
        .expect("literal built from digits is a valid float")
}

/// Real to integer as `sqlite3RealToI64`: truncation toward zero,
/// saturating at the i64 range. (NaN, which SQLite never stores, gives 0.)
pub fn real_to_i64(value: f64) -> i64 {
    // Rust's `as` truncates toward zero and saturates exactly at SQLite's
    // thresholds: the double after 9223372036854774784.0 is 2^63.
    value as i64
}

/// The decimal digits of a double after `sqlite3FpDecode`'s rounding.
enum Decoded {
    Infinite {
        negative: bool,
    },
    NaN,
    /// Value `0.d1d2d3... * 10^point`, `digits` without trailing zeros.
    Finite {
        negative: bool,
        digits: Vec<u8>,
        point: i32,
    },
}

/// `sqlite3FpDecode(r, round, max_round)`: positive `round` keeps that many
/// significant digits, zero or negative keeps `-round` digits after the
/// decimal point; never more than `max_round` significant digits; the
/// digit after the cut decides, rounding half up.
fn fp_decode(value: f64, round: i32, max_round: i32) -> Decoded {
    if value.is_nan() {
        return Decoded::NaN;
    }
    let negative = value < 0.0;
    if value == 0.0 {
        // -0.0 lands here too: SQLite prints it without a sign.
        return Decoded::Finite {
            negative: false,
            digits: vec![b'0'],
            point: 1,
        };
    }
    if value.is_infinite() {
        return Decoded::Infinite { negative };
    }
    let exact = format!("{:.29e}", value.abs());
    let (mantissa, exponent) = exact.split_once('e').expect("exponent notation");
    let exponent: i32 = exponent.parse().expect("decimal exponent");
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let mut point = exponent + 1;

    let mut round = round;
    if round <= 0 {
        round = point - round;
        if round == 0 && digits[0] >= b'5' {
            // The value is at least half a unit of the last kept place:
            // make room for the carry digit, as SQLite does.
            digits.insert(0, b'0');
            point += 1;
            round = 1;
        }
    }
    if round > 0 && ((round as usize) < digits.len() || digits.len() > max_round as usize) {
        let keep = round.min(max_round) as usize;
        let carry = digits[keep] >= b'5';
        digits.truncate(keep);
        if carry {
            let mut j = keep;
            loop {
                if j == 0 {
                    digits.insert(0, b'1');
                    point += 1;
                    break;
                }
                j -= 1;
                if digits[j] == b'9' {
                    digits[j] = b'0';
                } else {
                    digits[j] += 1;
                    break;
                }
            }
        }
    }
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    Decoded::Finite {
        negative,
        digits,
        point,
    }
}

/// Writes `Inf`, `-Inf` or `NaN` as SQLite's printf does; false if finite.
fn push_special(out: &mut String, decoded: &Decoded) -> bool {
    match decoded {
        Decoded::Infinite { negative: true } => out.push_str("-Inf"),
        Decoded::Infinite { negative: false } => out.push_str("Inf"),
        Decoded::NaN => out.push_str("NaN"),
        Decoded::Finite { .. } => return false,
    }
    true
}

/// SQLite's `printf("%.3f", value)`, the R column format.
pub fn format_real_fixed3(value: f64) -> String {
    const PRECISION: i32 = 3;
    let decoded = fp_decode(value, -PRECISION, 16);
    let mut out = String::with_capacity(24);
    if push_special(&mut out, &decoded) {
        return out;
    }
    let Decoded::Finite {
        negative,
        digits,
        point,
    } = decoded
    else {
        unreachable!("specials handled above")
    };
    if negative {
        out.push('-');
    }
    let mut next = digits
        .iter()
        .map(|&d| d as char)
        .chain(std::iter::repeat('0'));
    let e2 = point - 1;
    if e2 < 0 {
        out.push('0');
    } else {
        for _ in 0..=e2 {
            out.push(next.next().expect("infinite digit stream"));
        }
    }
    out.push('.');
    let leading_zeros = (-point).clamp(0, PRECISION);
    for _ in 0..leading_zeros {
        out.push('0');
    }
    for _ in leading_zeros..PRECISION {
        out.push(next.next().expect("infinite digit stream"));
    }
    out
}

/// SQLite's `printf("%!.15g", value)`: how `sqlite3_column_text` renders a
/// REAL (`1.0`, `0.1`, `1.0e+20`, `1.5e-05`, `Inf`).
pub fn format_real_text(value: f64) -> String {
    const SIGNIFICANT: i32 = 15;
    let decoded = fp_decode(value, SIGNIFICANT, 26);
    let mut out = String::with_capacity(24);
    if push_special(&mut out, &decoded) {
        return out;
    }
    let Decoded::Finite {
        negative,
        digits,
        point,
    } = decoded
    else {
        unreachable!("specials handled above")
    };
    if negative {
        out.push('-');
    }
    let exponent = point - 1;
    let scientific = !(-4..SIGNIFICANT).contains(&exponent);
    let mut precision = if scientific {
        SIGNIFICANT - 1
    } else {
        SIGNIFICANT - 1 - exponent
    };
    let mut next = digits
        .iter()
        .map(|&d| d as char)
        .chain(std::iter::repeat('0'));
    let mut e2 = if scientific { 0 } else { exponent };
    if e2 < 0 {
        out.push('0');
    } else {
        for _ in 0..=e2 {
            out.push(next.next().expect("infinite digit stream"));
        }
    }
    out.push('.');
    e2 += 1;
    while e2 < 0 && precision > 0 {
        out.push('0');
        precision -= 1;
        e2 += 1;
    }
    for _ in 0..precision {
        out.push(next.next().expect("infinite digit stream"));
    }
    // The "!" flag keeps one digit after the point: "1.0", not "1.".
    while out.ends_with('0') {
        out.pop();
    }
    if out.ends_with('.') {
        out.push('0');
    }
    if scientific {
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude >= 100 {
            out.push(char::from(b'0' + (magnitude / 100) as u8));
        }
        out.push(char::from(b'0' + (magnitude / 10 % 10) as u8));
        out.push(char::from(b'0' + (magnitude % 10) as u8));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_to_i64_takes_the_integer_prefix() {
        assert_eq!(text_to_i64(b"42"), 42);
        assert_eq!(text_to_i64(b"  \t-17abc"), -17);
        assert_eq!(text_to_i64(b"+8"), 8);
        assert_eq!(text_to_i64(b"1.9"), 1);
        assert_eq!(text_to_i64(b"1e5"), 1);
        assert_eq!(text_to_i64(b"abc"), 0);
        assert_eq!(text_to_i64(b""), 0);
        assert_eq!(text_to_i64(b"-"), 0);
        assert_eq!(text_to_i64(b"000123"), 123);
        assert_eq!(text_to_i64(b"9223372036854775807"), i64::MAX);
        assert_eq!(text_to_i64(b"9223372036854775808"), i64::MAX);
        assert_eq!(text_to_i64(b"-9223372036854775808"), i64::MIN);
        assert_eq!(text_to_i64(b"-9223372036854775809"), i64::MIN);
        assert_eq!(text_to_i64(b"123456789012345678901234567890"), i64::MAX);
    }

    #[test]
    fn text_to_f64_takes_the_numeric_prefix() {
        assert_eq!(text_to_f64(b"1.5"), 1.5);
        assert_eq!(text_to_f64(b" -2.25xyz"), -2.25);
        assert_eq!(text_to_f64(b".5"), 0.5);
        assert_eq!(text_to_f64(b"5."), 5.0);
        assert_eq!(text_to_f64(b"1e3"), 1000.0);
        assert_eq!(text_to_f64(b"1E-2"), 0.01);
        assert_eq!(text_to_f64(b"2e"), 2.0);
        assert_eq!(text_to_f64(b"2e+"), 2.0);
        assert_eq!(text_to_f64(b"abc"), 0.0);
        assert_eq!(text_to_f64(b"inf"), 0.0);
        assert_eq!(text_to_f64(b"."), 0.0);
        assert!(text_to_f64(b"-").is_sign_negative());
        assert_eq!(text_to_f64(b"1e400"), f64::INFINITY);
        assert_eq!(text_to_f64(b"1e-400"), 0.0);
    }

    #[test]
    fn real_to_i64_truncates_and_saturates() {
        assert_eq!(real_to_i64(2.9), 2);
        assert_eq!(real_to_i64(-2.9), -2);
        assert_eq!(real_to_i64(1e30), i64::MAX);
        assert_eq!(real_to_i64(-1e30), i64::MIN);
        assert_eq!(real_to_i64(9223372036854774784.0), 9223372036854774784);
    }

    #[test]
    fn fixed3_rounds_half_up_on_exact_digits() {
        assert_eq!(format_real_fixed3(0.0), "0.000");
        assert_eq!(format_real_fixed3(-0.0), "0.000");
        assert_eq!(format_real_fixed3(1.0), "1.000");
        assert_eq!(format_real_fixed3(-1.5), "-1.500");
        assert_eq!(format_real_fixed3(2.0 / 3.0), "0.667");
        assert_eq!(format_real_fixed3(0.0625), "0.063");
        assert_eq!(format_real_fixed3(0.0005), "0.001");
        assert_eq!(format_real_fixed3(0.0004), "0.000");
        assert_eq!(format_real_fixed3(0.00001), "0.000");
        assert_eq!(format_real_fixed3(-0.0001), "-0.000");
        assert_eq!(format_real_fixed3(9.9996), "10.000");
        assert_eq!(format_real_fixed3(999.9995), "1000.000");
        assert_eq!(format_real_fixed3(1e20), "100000000000000000000.000");
        // Sixteen significant digits at most, then zeros.
        assert_eq!(format_real_fixed3(12345678901234.567), "12345678901234.570");
        assert_eq!(format_real_fixed3(f64::INFINITY), "Inf");
        assert_eq!(format_real_fixed3(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_real_fixed3(f64::NAN), "NaN");
    }

    #[test]
    fn text_rendering_matches_sqlite_printf() {
        assert_eq!(format_real_text(0.0), "0.0");
        assert_eq!(format_real_text(1.0), "1.0");
        assert_eq!(format_real_text(-2.5), "-2.5");
        assert_eq!(format_real_text(0.1), "0.1");
        assert_eq!(format_real_text(0.1 + 0.2), "0.3");
        assert_eq!(format_real_text(1.0 / 3.0), "0.333333333333333");
        assert_eq!(format_real_text(100.0), "100.0");
        assert_eq!(format_real_text(123456789012345.0), "123456789012345.0");
        assert_eq!(format_real_text(1234567890123456.0), "1.23456789012346e+15");
        assert_eq!(format_real_text(1e20), "1.0e+20");
        assert_eq!(format_real_text(0.0001), "0.0001");
        assert_eq!(format_real_text(0.00001), "1.0e-05");
        assert_eq!(format_real_text(1.5e-300), "1.5e-300");
        assert_eq!(format_real_text(f64::INFINITY), "Inf");
        assert_eq!(format_real_text(f64::NEG_INFINITY), "-Inf");
    }
}
