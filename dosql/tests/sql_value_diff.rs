//! Differential tests of SQL value semantics against real SQLite:
//! operators, casts, REAL rendering, comparisons and collations, column
//! affinity, LIKE/GLOB, scalar functions, printf and aggregates.

mod sql_value_harness;

use dosql::sql::func;
use dosql::sql::value::{self as sv, Affinity, Collation, Value};
use sql_value_harness::{t, to_sql, values, Diff};

#[test]
fn arithmetic_and_operators() {
    let mut d = Diff::new();
    let vals = values();
    type Bin = fn(&Value, &Value) -> Value;
    let ops: [(&str, Bin); 11] = [
        ("+", sv::add),
        ("-", sv::sub),
        ("*", sv::mul),
        ("/", sv::div),
        ("%", sv::rem),
        ("&", sv::bit_and),
        ("|", sv::bit_or),
        ("<<", sv::shl),
        (">>", sv::shr),
        ("||", sv::concat),
        ("", sv::add),
    ];
    for (op, f) in ops.iter().take(10) {
        let sql = format!("SELECT ?1 {op} ?2");
        for a in &vals {
            for b in &vals {
                d.check(&sql, &[a.clone(), b.clone()], Ok(f(a, b)));
            }
        }
    }
    for a in &vals {
        d.check("SELECT -?1", std::slice::from_ref(a), Ok(sv::neg(a)));
        d.check("SELECT ~?1", std::slice::from_ref(a), Ok(sv::bit_not(a)));
    }
    d.finish("operators");
}

#[test]
fn casts_and_rendering() {
    let mut d = Diff::new();
    for a in values() {
        for ty in [
            "INTEGER",
            "REAL",
            "NUMERIC",
            "TEXT",
            "BLOB",
            "INT",
            "VARCHAR(3)",
            "DECIMAL",
            "FLOAT",
            "x",
        ] {
            d.check(
                &format!("SELECT CAST(?1 AS {ty})"),
                std::slice::from_ref(&a),
                Ok(sv::cast(&a, ty)),
            );
        }
        let truth = a
            .truthy()
            .map(|b| Value::Integer(b as i64))
            .unwrap_or(Value::Null);
        d.check(
            "SELECT CASE WHEN ?1 THEN 1 WHEN NOT ?1 THEN 0 END",
            std::slice::from_ref(&a),
            Ok(truth),
        );
        d.check(
            "SELECT typeof(?1)",
            std::slice::from_ref(&a),
            Ok(t(a.type_name())),
        );
    }
    for r in [
        1e15,
        1e16,
        0.1,
        -0.0,
        1e-7,
        123456789012345678.0,
        1e-5,
        1e-4,
        0.001234,
        1.0 / 3.0,
        2.0 / 3.0,
        1e100,
        1.7976931348623157e308,
        5e-324,
        12345.678,
    ] {
        d.check(
            "SELECT CAST(?1 AS TEXT)",
            &[Value::Real(r)],
            Ok(t(&Value::Real(r).to_text().unwrap())),
        );
    }
    d.finish("casts");
}

#[test]
fn comparisons_and_collations() {
    let mut d = Diff::new();
    let vals: Vec<Value> = values().into_iter().filter(|v| !v.is_null()).collect();
    for a in &vals {
        for b in &vals {
            for (coll, name) in [
                (Collation::Binary, "BINARY"),
                (Collation::NoCase, "NOCASE"),
                (Collation::RTrim, "RTRIM"),
            ] {
                let ours = sv::compare(a, b, coll) as i64;
                let sql = format!("SELECT (?1 > ?2 COLLATE {name}) - (?1 < ?2 COLLATE {name})");
                d.check(&sql, &[a.clone(), b.clone()], Ok(Value::Integer(ours)));
            }
        }
    }
    for s in ["a  ", "A", "a", "b ", "B"] {
        for u in ["a", "A ", "b"] {
            let ours = sv::compare(&t(s), &t(u), Collation::RTrim) as i64;
            d.check(
                "SELECT (?1 > ?2 COLLATE RTRIM) - (?1 < ?2 COLLATE RTRIM)",
                &[t(s), t(u)],
                Ok(Value::Integer(ours)),
            );
        }
    }
    d.finish("comparisons");
}

#[test]
fn column_affinity() {
    let mut d = Diff::new();
    d.conn
        .execute_batch("CREATE TABLE t(a INTEGER, b REAL, c NUMERIC, d TEXT, e BLOB)")
        .expect("create");
    for v in values() {
        d.conn.execute("DELETE FROM t", []).expect("delete");
        let p = to_sql(&v);
        d.conn
            .execute(
                "INSERT INTO t VALUES (?1, ?1, ?1, ?1, ?1)",
                [&p, &p, &p, &p, &p]
                    .map(|x| x as &dyn rusqlite::ToSql)
                    .as_slice()[..1]
                    .as_ref(),
            )
            .expect("insert");
        for (col, aff) in [
            ("a", Affinity::Integer),
            ("b", Affinity::Real),
            ("c", Affinity::Numeric),
            ("d", Affinity::Text),
            ("e", Affinity::Blob),
        ] {
            d.check(
                &format!("SELECT {col} FROM t"),
                &[],
                Ok(sv::apply_affinity(v.clone(), aff)),
            );
        }
    }
    d.finish("affinity");
}

#[test]
fn like_and_glob() {
    let mut d = Diff::new();
    let pats = [
        "a%", "%b%", "a_c", "_", "%", "", "A%C", "%é%", "[a-c]*", "*[0-9]", "a?c", "[^a]*", "[]]*",
        "*", "?", "a*c", "%a%b%", "[a-]", "x!%", "x!_y", "ab!", "%!%%",
    ];
    let texts = [
        "abc", "ABC", "", "a", "xyz", "aXc", "é", "bcd", "]x", "-", "x%", "x_y", "xay", "ab!",
        "ab", "5%", "1239",
    ];
    for p in pats {
        for s in texts {
            d.check(
                "SELECT ?2 LIKE ?1",
                &[t(p), t(s)],
                Ok(Value::Integer(sv::like(p, s, None) as i64)),
            );
            d.check(
                "SELECT ?2 LIKE ?1 ESCAPE '!'",
                &[t(p), t(s)],
                Ok(Value::Integer(sv::like(p, s, Some('!')) as i64)),
            );
            d.check(
                "SELECT ?2 GLOB ?1",
                &[t(p), t(s)],
                Ok(Value::Integer(sv::glob(p, s) as i64)),
            );
        }
    }
    let odd = [
        Value::Null,
        Value::Integer(12),
        Value::Real(1.5),
        Value::Blob(b"a".to_vec()),
        t("a"),
        t("1%"),
        t("_.5"),
    ];
    for a in &odd {
        for b in &odd {
            d.call("like", &[a.clone(), b.clone()]);
            d.call("glob", &[a.clone(), b.clone()]);
            for esc in [t("!"), t(""), t("ab"), Value::Null, t("%"), t("_")] {
                d.call("like", &[a.clone(), b.clone(), esc]);
            }
        }
    }
    d.call("like", &[t(&"%".repeat(50_001)), t("a")]);
    d.finish("like/glob");
}

#[test]
fn scalar_functions() {
    let mut d = Diff::new();
    let vals = values();
    for a in &vals {
        for f in [
            "abs",
            "length",
            "octet_length",
            "lower",
            "upper",
            "typeof",
            "round",
            "hex",
            "quote",
            "unicode",
            "sign",
            "trim",
            "ltrim",
            "rtrim",
            "likely",
            "zeroblob",
            "char",
        ] {
            if f == "zeroblob" && a.to_integer().unwrap_or(0) > 1000 {
                continue;
            }
            d.call(f, std::slice::from_ref(a));
        }
    }
    let small: Vec<Value> = vec![
        Value::Null,
        Value::Integer(1),
        Value::Real(1.0),
        Value::Real(2.5),
        t("a"),
        t("1"),
        t("ab"),
        Value::Blob(b"a".to_vec()),
        Value::Integer(-2),
        t(""),
    ];
    for a in &small {
        for b in &small {
            for f in [
                "coalesce",
                "ifnull",
                "nullif",
                "min",
                "max",
                "instr",
                "trim",
                "ltrim",
                "rtrim",
                "round",
                "concat",
                "concat_ws",
            ] {
                d.call(f, &[a.clone(), b.clone()]);
            }
            for c in &small {
                d.call("replace", &[a.clone(), b.clone(), c.clone()]);
                d.call("iif", &[a.clone(), b.clone(), c.clone()]);
                d.call("coalesce", &[a.clone(), b.clone(), c.clone()]);
                d.call("max", &[a.clone(), b.clone(), c.clone()]);
                d.call("min", &[a.clone(), b.clone(), c.clone()]);
            }
        }
    }
    for r in [
        2.5,
        -2.5,
        2.675,
        1.005,
        0.125,
        -0.125,
        1e17,
        123.456,
        0.5,
        1.4999999999999998,
        4503599627370496.5,
        9.995,
        -9.995,
    ] {
        for n in [-1, 0, 1, 2, 3, 10, 31] {
            d.call("round", &[Value::Real(r), Value::Integer(n)]);
        }
    }
    for s in [
        t("hello"),
        t("héllo wörld"),
        Value::Blob(vec![1, 2, 3, 4, 5]),
        Value::Integer(123456),
        Value::Real(1.5),
        t(""),
    ] {
        for p1 in [-7, -5, -3, -1, 0, 1, 2, 3, 5, 6, 9] {
            d.call("substr", &[s.clone(), Value::Integer(p1)]);
            for p2 in [-7, -3, -1, 0, 1, 2, 4, 10] {
                d.call(
                    "substr",
                    &[s.clone(), Value::Integer(p1), Value::Integer(p2)],
                );
                d.call(
                    "substring",
                    &[s.clone(), Value::Real(p1 as f64 + 0.5), t(&p2.to_string())],
                );
            }
        }
        d.call("substr", &[s.clone(), Value::Null]);
        d.call("substr", &[s.clone(), Value::Integer(1), Value::Null]);
    }
    for cp in [0x41, 0xe9, 0x1F600, 0x110000, -5, 0] {
        d.call("char", &[Value::Integer(cp), Value::Integer(0x42)]);
    }
    d.call("char", &[]);
    d.finish("scalars");
}

#[test]
fn printf_formats() {
    let mut d = Diff::new();
    let fmts = [
        "%d", "%5d", "%-5d|", "%05d", "%+d", "% d", "%,d", "%.3d", "%x", "%X", "%#x", "%#X", "%o",
        "%#o", "%u", "%i", "%c", "%5c|", "%.3c", "%s", "%10s|", "%-10s|", "%.2s", "%!.2s", "%q",
        "%Q", "%w", "%%", "%f", "%.0f", "%.1f", "%.2f", "%10.3f|", "%-10.3f|", "%010.3f", "%+.3f",
        "%#.0f", "%e", "%.3e", "%E", "%g", "%G", "%.3g", "%#g", "%!g", "%.20g", "%!.20g", "%!.15g",
        "%.30f", "%,.2f", "%,f", "%z", "%n", "%p", "%y", "%", "a%5", "%*d", "%.*f", "%-*d|", "%ld",
        "%lld", "%lf", "%1$d", "%!5s|", "%!-5s|", "%.0e", "%#e", "%#.3g", "%!.3e", "%r", "%05s",
        "%5%",
    ];
    let vals: Vec<Value> = vec![
        Value::Null,
        Value::Integer(0),
        Value::Integer(42),
        Value::Integer(-42),
        Value::Integer(1234567),
        Value::Integer(i64::MIN),
        Value::Real(3.25159),
        Value::Real(-0.5),
        Value::Real(2.675),
        Value::Real(1e20),
        Value::Real(1e-10),
        Value::Real(0.0),
        Value::Real(123456.789),
        Value::Real(f64::INFINITY),
        Value::Real(1.0 / 3.0),
        Value::Real(999.9995),
        Value::Real(0.000123456),
        t("hello"),
        t("it's \"q\""),
        t("héllo"),
        t("12abc"),
        t(""),
        Value::Blob(b"xy".to_vec()),
    ];
    for f in fmts {
        for v in &vals {
            d.call("printf", &[t(f), v.clone()]);
            d.call("format", &[t(f), v.clone(), Value::Integer(3)]);
        }
        d.call("printf", &[t(f)]);
    }
    d.call("printf", &[Value::Null, Value::Integer(1)]);
    d.call(
        "printf",
        &[t("%d%s%f"), Value::Integer(1), t("a"), Value::Real(0.5)],
    );
    d.finish("printf");
}

#[test]
fn aggregates() {
    let mut d = Diff::new();
    let sets: Vec<Vec<Value>> = vec![
        vec![],
        vec![Value::Null],
        vec![Value::Integer(1), Value::Integer(2), Value::Integer(2)],
        vec![Value::Integer(1), Value::Real(2.5), Value::Null],
        vec![Value::Integer(i64::MAX), Value::Integer(1)],
        vec![
            Value::Integer(i64::MAX),
            Value::Integer(1),
            Value::Real(1.0),
        ],
        vec![
            Value::Integer(i64::MAX),
            Value::Integer(1),
            Value::Integer(-1),
        ],
        vec![Value::Real(0.1), Value::Real(0.2), Value::Real(-0.3)],
        vec![t("3"), t("x"), t("1.5"), Value::Blob(b"7".to_vec())],
        vec![t("b"), t("a"), Value::Integer(3), Value::Blob(vec![0])],
        vec![Value::Integer(1), Value::Real(1.0), t("1")],
        vec![Value::Real(1e308), Value::Real(1e308), Value::Real(-1e308)],
        vec![Value::Real(f64::INFINITY), Value::Real(f64::NEG_INFINITY)],
        vec![Value::Integer(i64::MIN), Value::Integer(-1)],
        vec![t(""), t(""), Value::Null],
        vec![
            Value::Null,
            Value::Integer(1),
            Value::Null,
            Value::Integer(1),
            Value::Real(2.5),
        ],
    ];
    for set in &sets {
        let rows = if set.is_empty() {
            "SELECT NULL x WHERE 0".to_string()
        } else {
            (1..=set.len())
                .map(|i| format!("SELECT ?{i} x"))
                .collect::<Vec<_>>()
                .join(" UNION ALL ")
        };
        for (name, argc, distinct) in [
            ("count", 0, false),
            ("count", 1, false),
            ("count", 1, true),
            ("sum", 1, false),
            ("sum", 1, true),
            ("total", 1, false),
            ("avg", 1, false),
            ("avg", 1, true),
            ("min", 1, false),
            ("max", 1, false),
            ("group_concat", 1, false),
            ("group_concat", 2, false),
            ("group_concat", 1, true),
            ("json_group_array", 1, false),
            ("json_group_array", 1, true),
            ("json_group_object", 2, false),
        ] {
            let call = match (argc, distinct) {
                (0, _) => format!("{name}(*)"),
                (1, true) => format!("{name}(DISTINCT x)"),
                (1, false) => format!("{name}(x)"),
                _ => format!("{name}(x, '; ')"),
            };
            let sql = format!("SELECT {call} FROM ({rows})");
            let ours = (|| {
                let mut agg = func::aggregate(name, argc, distinct)
                    .ok_or_else(|| dosql::Error::NotFound(name.into()))?;
                for v in set {
                    match argc {
                        0 => agg.step(&[])?,
                        1 => agg.step(std::slice::from_ref(v))?,
                        _ => agg.step(&[v.clone(), t("; ")])?,
                    }
                }
                agg.finish()
            })();
            d.check(&sql, set, ours.map_err(|e| e.to_string()));
        }
    }
    // Collated min/max and DISTINCT.
    let words = [t("b"), t("A"), t("B"), t("a "), t("a"), Value::Integer(1)];
    let rows = (1..=words.len())
        .map(|i| format!("SELECT ?{i} x"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    for (coll, cname) in [
        (Collation::NoCase, "NOCASE"),
        (Collation::RTrim, "RTRIM"),
        (Collation::Binary, "BINARY"),
    ] {
        for (name, distinct) in [
            ("min", false),
            ("max", false),
            ("count", true),
            ("group_concat", true),
        ] {
            let call = if distinct {
                format!("{name}(DISTINCT x COLLATE {cname})")
            } else {
                format!("{name}(x COLLATE {cname})")
            };
            let sql = format!("SELECT {call} FROM ({rows})");
            let ours = (|| {
                let mut agg =
                    func::aggregate_collated(name, 1, distinct, coll).expect("aggregate exists");
                for v in &words {
                    agg.step(std::slice::from_ref(v))?;
                }
                agg.finish()
            })();
            d.check(&sql, &words, ours.map_err(|e| e.to_string()));
        }
    }
    d.finish("aggregates");
}
