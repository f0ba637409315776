//! Randomized differential tests against real SQLite: seeded random values
//! (integers near boundaries, arbitrary f64 bit patterns, numeric-looking
//! text) through arithmetic, casts, comparisons, REAL rendering, printf and
//! round. The seed is fixed so failures reproduce.

mod sql_value_harness;

use dosql::sql::value::{self as sv, Collation, Value};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sql_value_harness::{t, Diff};

fn random_real(rng: &mut SmallRng) -> f64 {
    loop {
        let r = match rng.gen_range(0..4) {
            0 => f64::from_bits(rng.gen()),
            1 => rng.gen_range(-1e6..1e6),
            2 => (rng.gen_range(-100_000i64..100_000) as f64) / 1000.0,
            _ => rng.gen_range(-1.0..1.0) * 10f64.powi(rng.gen_range(-30..30)),
        };
        if !r.is_nan() {
            return r;
        }
    }
}

fn random_text(rng: &mut SmallRng) -> String {
    const PIECES: [&str; 16] = [
        " ", "-", "+", ".", "e", "E", "0", "1", "9", "5", "x", "\t", "12", "e-", "inf", "00",
    ];
    let n = rng.gen_range(0..7);
    (0..n)
        .map(|_| PIECES[rng.gen_range(0..PIECES.len())])
        .collect()
}

fn random_value(rng: &mut SmallRng) -> Value {
    match rng.gen_range(0..10) {
        0 => Value::Null,
        1 | 2 => Value::Integer(match rng.gen_range(0..3) {
            0 => rng.gen(),
            1 => rng.gen_range(-1000..1000),
            _ => [
                i64::MAX,
                i64::MAX - 1,
                i64::MIN,
                i64::MIN + 1,
                1 << 62,
                -(1 << 53) - 1,
            ][rng.gen_range(0..6)],
        }),
        3..=5 => Value::Real(random_real(rng)),
        6..=8 => t(&random_text(rng)),
        _ => Value::Blob(random_text(rng).into_bytes()),
    }
}

#[test]
fn random_operators_and_casts() {
    let mut rng = SmallRng::seed_from_u64(0xD05A);
    let mut d = Diff::new();
    type Bin = fn(&Value, &Value) -> Value;
    let ops: [(&str, Bin); 7] = [
        ("+", sv::add),
        ("-", sv::sub),
        ("*", sv::mul),
        ("/", sv::div),
        ("%", sv::rem),
        ("<<", sv::shl),
        ("&", sv::bit_and),
    ];
    for _ in 0..20_000 {
        let a = random_value(&mut rng);
        let b = random_value(&mut rng);
        let (op, f) = ops[rng.gen_range(0..ops.len())];
        d.check(
            &format!("SELECT ?1 {op} ?2"),
            &[a.clone(), b.clone()],
            Ok(f(&a, &b)),
        );
        let ty = ["INTEGER", "REAL", "NUMERIC", "TEXT"][rng.gen_range(0..4)];
        d.check(
            &format!("SELECT CAST(?1 AS {ty})"),
            std::slice::from_ref(&a),
            Ok(sv::cast(&a, ty)),
        );
        if !a.is_null() && !b.is_null() {
            let ours = sv::compare(&a, &b, Collation::Binary) as i64;
            d.check(
                "SELECT (?1 > ?2) - (?1 < ?2)",
                &[a.clone(), b.clone()],
                Ok(Value::Integer(ours)),
            );
        }
    }
    d.finish("random operators");
}

/// Numeric-looking text with many digits, a point and an exponent.
fn random_numeric_text(rng: &mut SmallRng) -> String {
    let digits = |rng: &mut SmallRng, n: usize| -> String {
        (0..n)
            .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
            .collect()
    };
    let mut s = String::new();
    if rng.gen() {
        s.push('-');
    }
    let n = rng.gen_range(1..26);
    s += &digits(rng, n);
    if rng.gen() {
        s.push('.');
        let n = rng.gen_range(0..22);
        s += &digits(rng, n);
    }
    if rng.gen() {
        s.push('e');
        s.push_str(["", "-", "+"][rng.gen_range(0..3)]);
        s += &rng.gen_range(0..330).to_string();
    }
    s
}

#[test]
fn random_text_to_number() {
    let mut rng = SmallRng::seed_from_u64(7);
    let mut d = Diff::new();
    for _ in 0..20_000 {
        let v = t(&random_numeric_text(&mut rng));
        for ty in ["REAL", "NUMERIC", "INTEGER"] {
            d.check(
                &format!("SELECT CAST(?1 AS {ty})"),
                std::slice::from_ref(&v),
                Ok(sv::cast(&v, ty)),
            );
        }
        d.check(
            "SELECT ?1 + 0",
            std::slice::from_ref(&v),
            Ok(sv::add(&v, &Value::Integer(0))),
        );
    }
    d.finish("random text to number");
}

#[test]
fn random_rendering_printf_round() {
    let mut rng = SmallRng::seed_from_u64(42);
    let mut d = Diff::new();
    const CONV: [&str; 8] = ["f", "e", "g", "E", "G", "d", "s", "x"];
    for _ in 0..20_000 {
        let r = Value::Real(random_real(&mut rng));
        d.check(
            "SELECT CAST(?1 AS TEXT)",
            std::slice::from_ref(&r),
            Ok(t(&r.to_text().expect("non-NULL"))),
        );
        d.call("quote", std::slice::from_ref(&r));
        let flags: String = (0..rng.gen_range(0..3))
            .map(|_| ["-", "+", " ", "#", "!", "0", ","][rng.gen_range(0..7)])
            .collect();
        let width = if rng.gen() {
            rng.gen_range(0..25).to_string()
        } else {
            String::new()
        };
        let prec = if rng.gen() {
            format!(".{}", rng.gen_range(0..22))
        } else {
            String::new()
        };
        let fmt = format!(
            "%{flags}{width}{prec}{}",
            CONV[rng.gen_range(0..CONV.len())]
        );
        let arg = if rng.gen_range(0..4) == 0 {
            random_value(&mut rng)
        } else {
            r.clone()
        };
        d.call("printf", &[t(&fmt), arg]);
        d.call("round", &[r.clone(), Value::Integer(rng.gen_range(-2..18))]);
        d.call("round", std::slice::from_ref(&r));
    }
    d.finish("random rendering");
}

#[test]
fn random_like_and_glob() {
    let mut rng = SmallRng::seed_from_u64(99);
    let mut d = Diff::new();
    const PAT: [&str; 16] = [
        "a", "B", "b", "%", "_", "*", "?", "[", "]", "^", "-", "!", "é", "É", "c", "z",
    ];
    const TXT: [&str; 9] = ["a", "A", "b", "B", "é", "-", "]", "%", "c"];
    for _ in 0..20_000 {
        let pat: String = (0..rng.gen_range(0..7))
            .map(|_| PAT[rng.gen_range(0..PAT.len())])
            .collect();
        let txt: String = (0..rng.gen_range(0..6))
            .map(|_| TXT[rng.gen_range(0..TXT.len())])
            .collect();
        let (p, s) = (t(&pat), t(&txt));
        d.check(
            "SELECT ?2 LIKE ?1",
            &[p.clone(), s.clone()],
            Ok(Value::Integer(sv::like(&pat, &txt, None) as i64)),
        );
        d.check(
            "SELECT ?2 LIKE ?1 ESCAPE '!'",
            &[p.clone(), s.clone()],
            Ok(Value::Integer(sv::like(&pat, &txt, Some('!')) as i64)),
        );
        d.check(
            "SELECT ?2 GLOB ?1",
            &[p, s],
            Ok(Value::Integer(sv::glob(&pat, &txt) as i64)),
        );
    }
    d.finish("random like/glob");
}
