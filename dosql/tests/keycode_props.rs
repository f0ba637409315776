//! Property tests of the key encoding against an explicit reference of
//! SQLite's value ordering.

use std::cmp::Ordering;

use dosql::keycode::{decode_key, encode_key, Direction, KeyValue};
use proptest::prelude::*;

const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// SQLite's storage classes in sort order; NaN is stored as NULL.
fn class(v: &KeyValue) -> u8 {
    match v {
        KeyValue::Null => 0,
        KeyValue::Real(f) if f.is_nan() => 0,
        KeyValue::Integer(_) | KeyValue::Real(_) => 1,
        KeyValue::Text(_) => 2,
        KeyValue::Blob(_) => 3,
    }
}

/// Exact comparison of an integer with a (non-NaN) real, as SQLite's
/// sqlite3IntFloatCompare does: via the floor and the fraction.
fn int_real_cmp(i: i64, f: f64) -> Ordering {
    if f >= TWO_63 {
        return Ordering::Less;
    }
    if f < -TWO_63 {
        return Ordering::Greater;
    }
    let floor = f.floor();
    match i128::from(i).cmp(&(floor as i128)) {
        Ordering::Equal if f > floor => Ordering::Less,
        other => other,
    }
}

fn sqlite_cmp(a: &KeyValue, b: &KeyValue) -> Ordering {
    use KeyValue::*;
    let (ca, cb) = (class(a), class(b));
    if ca != cb || ca == 0 {
        return ca.cmp(&cb); // NULL (and NaN, stored as NULL) equals NULL
    }
    match (a, b) {
        (Integer(x), Integer(y)) => x.cmp(y),
        (Real(x), Real(y)) => x.partial_cmp(y).expect("NaN is class 0"),
        (Integer(x), Real(y)) => int_real_cmp(*x, *y),
        (Real(x), Integer(y)) => int_real_cmp(*y, *x).reverse(),
        (Text(x), Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Blob(x), Blob(y)) => x.cmp(y),
        _ => unreachable!("classes 1 to 3 are covered above"),
    }
}

fn tuple_cmp(a: &[KeyValue], b: &[KeyValue], dirs: &[Direction]) -> Ordering {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let mut ord = sqlite_cmp(x, y);
        if dirs.get(i) == Some(&Direction::Desc) {
            ord = ord.reverse();
        }
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.len().cmp(&b.len())
}

/// What decoding returns for `v`: integral numbers in i64 range become
/// Integer, NaN becomes NULL.
fn normalise(v: &KeyValue) -> KeyValue {
    match v {
        KeyValue::Real(f) if f.is_nan() => KeyValue::Null,
        KeyValue::Real(f) if f.fract() == 0.0 && *f >= -TWO_63 && *f < TWO_63 => {
            KeyValue::Integer(*f as i64)
        }
        other => other.clone(),
    }
}

fn encode(values: &[KeyValue], dirs: &[Direction]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_key(values, dirs, &mut out);
    out
}

/// Integers near the places where f64 precision changes.
fn edge_integer() -> impl Strategy<Value = i64> {
    let bases = prop::sample::select(vec![
        0i64,
        1 << 53,
        -(1 << 53),
        1 << 54,
        1 << 62,
        -(1 << 62),
        i64::MAX,
        i64::MIN,
        i64::MAX - 1024,
    ]);
    (bases, -3000i64..3000).prop_map(|(b, d)| b.saturating_add(d))
}

fn number() -> impl Strategy<Value = KeyValue> {
    prop_oneof![
        any::<i64>().prop_map(KeyValue::Integer),
        edge_integer().prop_map(KeyValue::Integer),
        (-5i64..5).prop_map(KeyValue::Integer),
        any::<f64>().prop_map(KeyValue::Real),
        (-5i64..5).prop_map(|i| KeyValue::Real(i as f64 / 2.0)),
        // The f64s around an edge integer, including the ones just past it.
        (edge_integer(), -2i64..=2).prop_map(|(i, step)| {
            let f = i as f64;
            let bits = f.to_bits() as i64 + step;
            KeyValue::Real(f64::from_bits(bits as u64))
        }),
        prop::sample::select(vec![
            0.0,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE / 8.0,
            TWO_63,
            -TWO_63,
            f64::MAX,
            f64::MIN,
        ])
        .prop_map(KeyValue::Real),
    ]
}

/// Bytes from a small alphabet so that shared prefixes, zero bytes and the
/// escape sequences come up often.
fn small_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec![0u8, 1, 2, 0xFE, 0xFF, b'a']),
        0..6,
    )
}

fn value() -> impl Strategy<Value = KeyValue> {
    prop_oneof![
        1 => Just(KeyValue::Null),
        4 => number(),
        2 => prop::collection::vec(prop::sample::select(vec!['\0', '\u{1}', 'a', 'b', 'é', '\u{10FFFF}']), 0..5)
            .prop_map(|c| KeyValue::Text(c.into_iter().collect())),
        2 => small_bytes().prop_map(KeyValue::Blob),
    ]
}

fn tuple() -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec(value(), 0..4)
}

fn dirs() -> impl Strategy<Value = Vec<Direction>> {
    prop::collection::vec(
        prop::sample::select(vec![Direction::Asc, Direction::Desc]),
        0..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn memcmp_order_equals_sqlite_order(a in tuple(), b in tuple(), dirs in dirs()) {
        let (ea, eb) = (encode(&a, &dirs), encode(&b, &dirs));
        prop_assert_eq!(ea.cmp(&eb), tuple_cmp(&a, &b, &dirs), "{:?} vs {:?}: {:?} vs {:?}", a, b, ea, eb);
    }

    #[test]
    fn single_numbers_order_exactly(a in number(), b in number()) {
        let (ea, eb) = (encode(std::slice::from_ref(&a), &[]), encode(std::slice::from_ref(&b), &[]));
        prop_assert_eq!(ea.cmp(&eb), sqlite_cmp(&a, &b), "{:?} vs {:?}", a, b);
    }

    #[test]
    fn decode_inverts_encode(a in tuple(), dirs in dirs()) {
        let decoded = decode_key(&encode(&a, &dirs), &dirs).unwrap();
        let expected: Vec<KeyValue> = a.iter().map(normalise).collect();
        prop_assert_eq!(decoded, expected);
    }

    #[test]
    fn decoding_random_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..40), dirs in dirs()) {
        if let Ok(values) = decode_key(&bytes, &dirs) {
            // Whatever decodes is canonical: it re-encodes to the same bytes.
            prop_assert_eq!(encode(&values, &dirs), bytes);
        }
    }

    #[test]
    fn decoding_damaged_keys_never_panics(a in tuple(), dirs in dirs(), pos in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
        let mut bytes = encode(&a, &dirs);
        if !bytes.is_empty() {
            let i = pos % bytes.len();
            bytes[i] = byte;
            bytes.truncate(cut % (bytes.len() + 1));
        }
        if let Ok(values) = decode_key(&bytes, &dirs) {
            prop_assert_eq!(encode(&values, &dirs), bytes);
        }
    }
}
