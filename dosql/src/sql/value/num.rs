//! Text <-> number conversions, bit-compatible with SQLite's `sqlite3AtoF`,
//! `sqlite3Atoi64` and `sqlite3FpDecode`.
//!
//! SQLite converts text to numbers by *prefix*: leading whitespace, an
//! optional sign, then as many digits (and for reals a `.` and an exponent)
//! as parse. The return codes of the two parsers drive every numeric
//! conversion in the engine (CAST, affinity, arithmetic), so they are kept
//! exactly:
//!
//! ```text
//!   atof code   meaning                        atoi code  meaning
//!     1         pure integer, nothing else        -1      no digits at all
//!     2, 3      has '.' and/or exponent            0      fits, nothing else
//!     0         not a number (maybe int prefix)    1      fits, trailing junk
//!    -1         prefix with '.' or exponent        2      too large
//!                                                  3      exactly 2^63
//! ```
//!
//! Both directions reproduce SQLite's 80-bit `long double` intermediate
//! arithmetic (see `ext`), so even the 18th-20th digits that `quote()`
//! prints, and the rare text whose REAL is not the correctly rounded one,
//! match SQLite on its reference platform. Rendering takes 18 or 19
//! significant digits, truncated, then rounds half-up on the digit string.

use super::ext::{self, Ext};

/// SQLite's `sqlite3Isspace`: the ASCII whitespace set, not Unicode.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Parses the longest real prefix of `z` (a port of `sqlite3AtoF`,
/// including its 80-bit intermediate arithmetic). Returns the value and
/// the return code (see the module table).
pub(crate) fn atof(z: &[u8]) -> (f64, i32) {
    const BIG: u64 = (u64::MAX - 9) / 10;
    let end = z.len();
    let mut i = 0;
    while i < end && is_space(z[i]) {
        i += 1;
    }
    if i >= end {
        return (0.0, 0);
    }
    let mut neg = false;
    if z[i] == b'-' {
        neg = true;
        i += 1;
    } else if z[i] == b'+' {
        i += 1;
    }
    let mut s: u64 = 0;
    let mut d: i32 = 0;
    let mut n_digit = 0;
    let mut e_type = 1;
    let mut e_valid = true;
    let mut e: i32 = 0;
    let mut esign = 1;
    while i < end && z[i].is_ascii_digit() {
        s = s * 10 + (z[i] - b'0') as u64;
        i += 1;
        n_digit += 1;
        if s >= BIG {
            // Further integer digits only scale the value.
            while i < end && z[i].is_ascii_digit() {
                i += 1;
                d += 1;
            }
        }
    }
    'tail: {
        if i >= end {
            break 'tail;
        }
        if z[i] == b'.' {
            i += 1;
            e_type += 1;
            while i < end && z[i].is_ascii_digit() {
                if s < BIG {
                    s = s * 10 + (z[i] - b'0') as u64;
                    d -= 1;
                    n_digit += 1;
                }
                i += 1;
            }
        }
        if i >= end {
            break 'tail;
        }
        if z[i] == b'e' || z[i] == b'E' {
            i += 1;
            e_valid = false;
            e_type += 1;
            if i >= end {
                break 'tail;
            }
            if z[i] == b'-' {
                esign = -1;
                i += 1;
            } else if z[i] == b'+' {
                i += 1;
            }
            while i < end && z[i].is_ascii_digit() {
                e = if e < 10000 {
                    e * 10 + (z[i] - b'0') as i32
                } else {
                    10000
                };
                i += 1;
                e_valid = true;
            }
        }
        while i < end && is_space(z[i]) {
            i += 1;
        }
    }
    let value = if s == 0 {
        0.0
    } else {
        let mut e = e * esign + d;
        while e > 0 && s < u64::MAX / 10 {
            s *= 10;
            e -= 1;
        }
        // Not `is_multiple_of`: the workspace MSRV (1.85) predates it.
        #[allow(clippy::manual_is_multiple_of)]
        while e < 0 && s % 10 == 0 {
            s /= 10;
            e += 1;
        }
        if e == 0 {
            s as f64
        } else {
            let mut r = Ext::from_u64(s);
            if e > 0 {
                while e >= 100 {
                    e -= 100;
                    r = r.mul(ext::E100);
                }
                while e >= 10 {
                    e -= 10;
                    r = r.mul(ext::E10);
                }
                while e >= 1 {
                    e -= 1;
                    r = r.mul(ext::E1);
                }
            } else {
                while e <= -100 {
                    e += 100;
                    r = r.mul(ext::EM100);
                }
                while e <= -10 {
                    e += 10;
                    r = r.mul(ext::EM10);
                }
                while e <= -1 {
                    e += 1;
                    r = r.mul(ext::EM1);
                }
            }
            if r > Ext::from_f64(f64::MAX) {
                f64::INFINITY
            } else {
                r.to_f64()
            }
        }
    };
    let value = if neg { -value } else { value };
    let code = if i == end && n_digit > 0 && e_valid {
        e_type
    } else if e_type >= 2 && (e_type == 3 || e_valid) && n_digit > 0 {
        -1
    } else {
        0
    };
    (value, code)
}

/// Parses the longest decimal integer prefix of `z` (no hex), saturating on
/// overflow. Returns the value and the `sqlite3Atoi64` return code.
pub(crate) fn atoi64(z: &[u8]) -> (i64, i32) {
    let end = z.len();
    let mut i = 0;
    while i < end && is_space(z[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < end {
        if z[i] == b'-' {
            neg = true;
            i += 1;
        } else if z[i] == b'+' {
            i += 1;
        }
    }
    let start = i;
    while i < end && z[i] == b'0' {
        i += 1;
    }
    let digits_start = i;
    let mut u: u64 = 0;
    while i < end && z[i].is_ascii_digit() {
        u = u.wrapping_mul(10).wrapping_add((z[i] - b'0') as u64);
        i += 1;
    }
    let nd = i - digits_start;
    let mut value = if u > i64::MAX as u64 {
        if neg {
            i64::MIN
        } else {
            i64::MAX
        }
    } else if neg {
        -(u as i64)
    } else {
        u as i64
    };
    let mut rc = 0;
    if nd == 0 && start == digits_start {
        rc = -1;
    } else if z[i..].iter().any(|&b| !is_space(b)) {
        rc = 1;
    }
    if nd < 19 {
        return (value, rc);
    }
    let c = if nd > 19 {
        1
    } else {
        compare_2pow63(&z[digits_start..digits_start + 19])
    };
    if c < 0 {
        return (value, rc);
    }
    value = if neg { i64::MIN } else { i64::MAX };
    if c > 0 {
        (value, 2)
    } else if neg {
        (value, rc)
    } else {
        (value, 3)
    }
}

fn compare_2pow63(z: &[u8]) -> i32 {
    z.cmp(b"9223372036854775808".as_slice()) as i32
}

/// `sqlite3RealToI64`: saturating conversion used by numeric affinity.
pub(crate) fn real_to_i64(r: f64) -> i64 {
    if r < -9223372036854774784.0 {
        i64::MIN
    } else if r > 9223372036854774784.0 {
        i64::MAX
    } else {
        r as i64
    }
}

/// `sqlite3RealSameAsInt`: true when `r` is exactly the integer `i` and
/// small enough (|i| < 2^51) that the round trip is unambiguous.
pub(crate) fn real_same_as_int(r: f64, i: i64) -> bool {
    r == 0.0
        || (r.to_bits() == (i as f64).to_bits()
            && (-2251799813685248..2251799813685248).contains(&i))
}

/// `doubleToInt64`: CAST(real AS INTEGER), saturating at the i64 range.
pub(crate) fn double_to_i64(r: f64) -> i64 {
    if r.is_nan() {
        0
    } else if r <= i64::MIN as f64 {
        i64::MIN
    } else if r >= i64::MAX as f64 {
        i64::MAX
    } else {
        r as i64
    }
}

/// Decimal digits of a real as `sqlite3FpDecode` produces them.
#[derive(Debug)]
pub(crate) struct FpDecode {
    /// True when negative.
    pub neg: bool,
    /// 0 normal, 1 infinity, 2 NaN.
    pub special: u8,
    /// Significant digits as ASCII, trailing zeros removed.
    pub digits: Vec<u8>,
    /// Position of the decimal point relative to the first digit.
    pub idp: i32,
}

/// Port of `sqlite3FpDecode(p, r, iRound, mxRound)`.
pub(crate) fn fp_decode(r: f64, iround: i32, mx_round: i32) -> FpDecode {
    let neg = r < 0.0;
    let r = r.abs();
    if r == 0.0 {
        return FpDecode {
            neg: false,
            special: 0,
            digits: vec![b'0'],
            idp: 1,
        };
    }
    if r.is_infinite() || r.is_nan() {
        let special = if r.is_nan() { 2 } else { 1 };
        return FpDecode {
            neg,
            special,
            digits: Vec::new(),
            idp: 0,
        };
    }
    // Scale into [1e17, 1e19) in 80-bit arithmetic, exactly as SQLite
    // does, and take the integer part as the significant digits.
    let mut rr = Ext::from_f64(r);
    let mut exp: i32 = 0;
    if rr >= ext::E19 {
        while rr >= ext::E119 {
            exp += 100;
            rr = rr.mul(ext::EM100);
        }
        while rr >= ext::E29 {
            exp += 10;
            rr = rr.mul(ext::EM10);
        }
        while rr >= ext::E19 {
            exp += 1;
            rr = rr.mul(ext::EM1);
        }
    } else {
        while rr < ext::EM97 {
            exp -= 100;
            rr = rr.mul(ext::E100);
        }
        while rr < ext::E7 {
            exp -= 10;
            rr = rr.mul(ext::E10);
        }
        while rr < ext::E17 {
            exp -= 1;
            rr = rr.mul(ext::E1);
        }
    }
    let mut z: Vec<u8> = rr.to_u64().to_string().into_bytes();
    let mut idp = z.len() as i32 + exp;
    let mut iround = iround;
    if iround <= 0 {
        iround = idp - iround;
        if iround == 0 && z[0] >= b'5' {
            iround = 1;
            z.insert(0, b'0');
            idp += 1;
        }
    }
    let n = z.len() as i32;
    if iround > 0 && (iround < n || n > mx_round) {
        let iround = iround.min(mx_round) as usize;
        let round_up = z[iround] >= b'5';
        z.truncate(iround);
        if round_up {
            let mut j = iround;
            loop {
                if j == 0 {
                    z.insert(0, b'1');
                    idp += 1;
                    break;
                }
                j -= 1;
                if z[j] == b'9' {
                    z[j] = b'0';
                } else {
                    z[j] += 1;
                    break;
                }
            }
        }
    }
    while z.last() == Some(&b'0') {
        z.pop();
    }
    FpDecode {
        neg,
        special: 0,
        digits: z,
        idp,
    }
}

/// How SQLite renders a REAL as TEXT: `printf("%!.15g")`.
pub(crate) fn real_to_text(r: f64) -> String {
    let mut out = Vec::with_capacity(24);
    let flags = FloatFlags {
        altform2: true,
        ..FloatFlags::default()
    };
    crate::sql::func::printf::format_float(&mut out, r, b'g', 15, flags);
    String::from_utf8(out).expect("float rendering is ASCII")
}

/// Flags of one `%e/%f/%g` conversion.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FloatFlags {
    pub left: bool,
    pub prefix: u8,
    pub alternate: bool,
    pub altform2: bool,
    pub zeropad: bool,
    pub thousands: bool,
    pub width: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atof_codes_match_sqlite() {
        assert_eq!(atof(b"12"), (12.0, 1));
        assert_eq!(atof(b"  12  "), (12.0, 1));
        assert_eq!(atof(b"1.5"), (1.5, 2));
        assert_eq!(atof(b"1e5"), (100000.0, 2));
        assert_eq!(atof(b"1.5e2"), (150.0, 3));
        assert_eq!(atof(b"12abc"), (12.0, 0));
        assert_eq!(atof(b"1.5x"), (1.5, -1));
        assert_eq!(atof(b"abc"), (0.0, 0));
        assert_eq!(atof(b"-"), (0.0, 0));
        assert_eq!(atof(b"1e"), (1.0, 0));
        assert_eq!(atof(b".5"), (0.5, 2));
        assert_eq!(atof(b"0.1").0, 0.1);
        assert_eq!(atof(b"1e400").0, f64::INFINITY);
    }

    #[test]
    fn atoi_codes_match_sqlite() {
        assert_eq!(atoi64(b"12"), (12, 0));
        assert_eq!(atoi64(b"  -12 "), (-12, 0));
        assert_eq!(atoi64(b"12abc"), (12, 1));
        assert_eq!(atoi64(b"abc"), (0, -1));
        assert_eq!(atoi64(b"9223372036854775807"), (i64::MAX, 0));
        assert_eq!(atoi64(b"9223372036854775808"), (i64::MAX, 3));
        assert_eq!(atoi64(b"-9223372036854775808"), (i64::MIN, 0));
        assert_eq!(atoi64(b"99999999999999999999"), (i64::MAX, 2));
        assert_eq!(atoi64(b"0000000000000000000000012"), (12, 0));
    }

    #[test]
    fn fp_decode_rounds_on_digits() {
        let d = fp_decode(0.1, 15, 16);
        assert_eq!((d.digits.as_slice(), d.idp), (b"1".as_slice(), 0));
        let d = fp_decode(123456789012345678.0, 15, 16);
        assert_eq!(
            (d.digits.as_slice(), d.idp),
            (b"123456789012346".as_slice(), 18)
        );
        let d = fp_decode(0.5, 0, 16);
        assert_eq!((d.digits.as_slice(), d.idp), (b"1".as_slice(), 1));
    }
}
