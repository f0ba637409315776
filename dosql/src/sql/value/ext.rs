//! A software model of the x87 80-bit `long double` that SQLite uses (on
//! x86-64 Linux, its reference platform) to convert between text and REAL.
//!
//! Matching SQLite digit for digit requires the same intermediate
//! roundings, not a more exact algorithm: `CAST('5E125' AS REAL)` is
//! 5.0000000000000004e125 in SQLite, and `quote()` prints 20 digits whose
//! tail comes from this arithmetic. Only what those two conversions need is
//! modelled: positive finite values, multiplication with round-to-nearest-
//! even on a 64-bit significand, comparison, and conversion to u64 and f64.
//!
//! ```text
//!   value = m * 2^e,   2^63 <= m < 2^64  (m == 0 for zero)
//! ```
//! The exponent is an i32, so unlike real hardware there is no overflow or
//! underflow in the ranges SQLite reaches (at most 10^±10000).

use std::cmp::Ordering;

/// A positive extended-precision value `m * 2^e`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ext {
    m: u64,
    e: i32,
}

/// Powers of ten as x87 `long double` literals (correctly rounded).
pub(crate) const E100: Ext = Ext {
    m: 0x924d692ca61be758,
    e: 269,
};
pub(crate) const E10: Ext = Ext {
    m: 0x9502f90000000000,
    e: -30,
};
pub(crate) const E1: Ext = Ext {
    m: 0xa000000000000000,
    e: -60,
};
pub(crate) const EM1: Ext = Ext {
    m: 0xcccccccccccccccd,
    e: -67,
};
pub(crate) const EM10: Ext = Ext {
    m: 0xdbe6fecebdedd5bf,
    e: -97,
};
pub(crate) const EM100: Ext = Ext {
    m: 0xdff9772470297ebd,
    e: -396,
};
pub(crate) const E119: Ext = Ext {
    m: 0x9e9f11c4014dda7e,
    e: 332,
};
pub(crate) const E29: Ext = Ext {
    m: 0xa18f07d736b90be5,
    e: 33,
};
pub(crate) const E19: Ext = Ext {
    m: 0x8ac7230489e80000,
    e: 0,
};
pub(crate) const EM97: Ext = Ext {
    m: 0xdab99e59958885c5,
    e: -386,
};
pub(crate) const E7: Ext = Ext {
    m: 0x9896800000000000,
    e: -40,
};
pub(crate) const E17: Ext = Ext {
    m: 0xb1a2bc2ec5000000,
    e: -7,
};

impl Ext {
    /// Exact conversion of a u64 (64 significant bits always fit).
    pub(crate) fn from_u64(v: u64) -> Ext {
        if v == 0 {
            return Ext { m: 0, e: 0 };
        }
        let z = v.leading_zeros();
        Ext {
            m: v << z,
            e: -(z as i32),
        }
    }

    /// Exact conversion of a positive finite double (subnormals included).
    pub(crate) fn from_f64(r: f64) -> Ext {
        let bits = r.to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i32;
        let frac = bits & ((1 << 52) - 1);
        let (mant, e) = if exp == 0 {
            (frac, -1074)
        } else {
            (frac | (1 << 52), exp - 1075)
        };
        let x = Ext::from_u64(mant);
        Ext { m: x.m, e: x.e + e }
    }

    /// Product rounded to 64 significant bits, nearest-even.
    pub(crate) fn mul(self, o: Ext) -> Ext {
        if self.m == 0 || o.m == 0 {
            return Ext { m: 0, e: 0 };
        }
        let p = self.m as u128 * o.m as u128;
        let shift: i32 = if p >> 127 != 0 { 64 } else { 63 };
        let mut m = (p >> shift) as u64;
        let rem = p & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        let mut e = self.e + o.e + shift;
        if rem > half || (rem == half && m & 1 == 1) {
            m = m.wrapping_add(1);
            if m == 0 {
                m = 1 << 63;
                e += 1;
            }
        }
        Ext { m, e }
    }

    /// `(u64)x`: truncation toward zero (the caller keeps x below 2^64).
    pub(crate) fn to_u64(self) -> u64 {
        if self.e >= 0 {
            self.m.checked_shl(self.e as u32).unwrap_or(u64::MAX)
        } else if self.e <= -64 {
            0
        } else {
            self.m >> (-self.e)
        }
    }

    /// `(double)x`: nearest-even to 53 bits, subnormals and infinity
    /// included.
    pub(crate) fn to_f64(self) -> f64 {
        if self.m == 0 {
            return 0.0;
        }
        // Exponent of the leading bit.
        let lead = self.e + 63;
        if lead > 1023 {
            return f64::INFINITY;
        }
        // Number of low bits of m to drop: 11 for normals, more below.
        let drop = if lead >= -1022 {
            11
        } else {
            11 + (-1022 - lead)
        };
        if drop > 64 {
            return 0.0;
        }
        let (mut mant, rem, half) = if drop == 64 {
            (0u64, self.m as u128, 1u128 << 63)
        } else {
            (
                self.m >> drop,
                (self.m & ((1u64 << drop) - 1)) as u128,
                1u128 << (drop - 1),
            )
        };
        if rem > half || (rem == half && mant & 1 == 1) {
            mant += 1;
        }
        if lead >= -1022 {
            let mut biased = (lead + 1023) as u64;
            if mant == 1 << 53 {
                mant >>= 1;
                biased += 1;
                if biased >= 2047 {
                    return f64::INFINITY;
                }
            }
            f64::from_bits((biased << 52) | (mant & ((1 << 52) - 1)))
        } else {
            // A subnormal; a carry into bit 52 yields the smallest normal.
            f64::from_bits(mant)
        }
    }
}

impl PartialOrd for Ext {
    fn partial_cmp(&self, o: &Ext) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Ext {
    fn cmp(&self, o: &Ext) -> Ordering {
        match (self.m == 0, o.m == 0) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => self.e.cmp(&o.e).then(self.m.cmp(&o.m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_doubles() {
        for r in [
            1.0,
            0.1,
            1e300,
            5e-324,
            2.2250738585072014e-308,
            123456.789,
            f64::MAX,
        ] {
            assert_eq!(Ext::from_f64(r).to_f64(), r);
        }
        assert_eq!(Ext::from_u64(10).mul(E1).to_u64(), 100);
        assert_eq!(E19.to_u64(), 10_000_000_000_000_000_000);
    }

    #[test]
    fn rounds_like_x87() {
        // 5 * 10^125 through the x87 sequence (as SQLite's AtoF does):
        // double rounding lands one ulp above the exact double.
        let mut r = Ext::from_u64(5);
        r = r.mul(E100);
        for _ in 0..2 {
            r = r.mul(E10);
        }
        for _ in 0..5 {
            r = r.mul(E1);
        }
        assert_eq!(r.to_f64(), 5.0000000000000004e125);
        assert!(E17 < E19 && EM97 < E7);
    }
}
