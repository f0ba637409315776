//! Differential tests of the date/time and JSON functions (including the
//! table-valued `json_each`) against real SQLite.

mod sql_value_harness;

use dosql::sql::func::{self, FuncContext};
use dosql::sql::value::Value;
use rusqlite::types::Value as SqlValue;
use sql_value_harness::{from_sql, same, t, to_sql, Diff};

#[test]
fn date_and_time() {
    let mut d = Diff::new();
    let times: Vec<Value> = vec![
        t("2024-03-15"),
        t("2024-03-15 10:20:30"),
        t("2024-03-15T10:20:30.123"),
        t("2024-03-15 10:20"),
        t("2024-02-29 23:59:59.9999"),
        t("2023-02-31"),
        t("2000-01-01 00:00:00Z"),
        t("2024-01-01 10:00+02:00"),
        t("2024-01-01 10:00 -05:30"),
        t("10:20:30"),
        t("25:00"),
        t("-0044-03-15"),
        t("9999-12-31 23:59:59"),
        t("0000-01-01"),
        t("1970-01-01"),
        t("2024-13-01"),
        t("2024-1-1"),
        t(""),
        t("now"),
        t("NOW"),
        t("garbage"),
        t("2451545.0"),
        t("1700000000"),
        Value::Integer(2451545),
        Value::Real(2460385.5),
        Value::Integer(1700000000),
        Value::Real(-1.0),
        Value::Integer(0),
        Value::Null,
        Value::Real(5373484.5),
        t("2024-03-15 10:20:30.5 Z"),
        t("12:00:00.999"),
        t("1900-03-01"),
        t("2100-02-28"),
    ];
    let mods: Vec<&str> = vec![
        "+1 day",
        "-1 day",
        "+1.5 days",
        "+36 hours",
        "-90 minutes",
        "+3600 seconds",
        "+1 month",
        "-1 month",
        "+13 months",
        "+1 year",
        "-2 years",
        "+1.5 years",
        "+0.5 months",
        "start of month",
        "start of year",
        "start of day",
        "weekday 0",
        "weekday 3",
        "weekday 7",
        "unixepoch",
        "julianday",
        "auto",
        "subsec",
        "floor",
        "ceiling",
        "localtime",
        "utc",
        "+01:30",
        "-10:00:30.5",
        "+0001-02-03",
        "-0001-00-01 12:00",
        "+1 fortnight",
        "bogus",
        "+1 days ",
        "+ 1 day",
        "12 hours",
        "+10000000 days",
        "start of week",
    ];
    for tv in &times {
        for f in ["date", "time", "datetime", "julianday", "unixepoch"] {
            d.call(f, std::slice::from_ref(tv));
            for m in &mods {
                d.call(f, &[tv.clone(), t(m)]);
            }
        }
        for (m1, m2) in [
            ("+1 month", "floor"),
            ("+1 month", "ceiling"),
            ("unixepoch", "+1 day"),
            ("auto", "subsec"),
            ("start of month", "+1 month"),
            ("-1 day", "unixepoch"),
            ("subsec", "+0.25 seconds"),
            ("+1 year", "weekday 1"),
        ] {
            d.call("datetime", &[tv.clone(), t(m1), t(m2)]);
            d.call("unixepoch", &[tv.clone(), t(m1), t(m2)]);
        }
        for fmt in [
            "%Y-%m-%d %H:%M:%S",
            "%d %e %f %F %G %g %H %k %I %l %j %J %m %M %p %P %R %s %S %T %u %w %U %V %W %Y %%",
            "%Q",
            "plain",
            "",
            "%",
            "%s.%f",
        ] {
            d.call("strftime", &[t(fmt), tv.clone()]);
            d.call("strftime", &[t(fmt), tv.clone(), t("subsec")]);
        }
    }
    for a in &times {
        for b in [
            t("2024-01-01"),
            t("2023-03-31 12:00"),
            t("2024-02-29"),
            Value::Real(2460000.25),
        ] {
            d.call("timediff", &[a.clone(), b.clone()]);
            d.call("timediff", &[b, a.clone()]);
        }
    }
    for f in ["date", "time", "datetime", "unixepoch"] {
        d.call(f, &[]);
    }
    d.finish("date/time");
}

#[test]
fn json_functions() {
    let mut d = Diff::new();
    let docs: Vec<Value> = vec![
        t(r#"{"a":[1,2.5,"x",true,null,{"b":"\u0041"}],"c d":-3,"e":{"f":{"g":[[]]}}}"#),
        t(r#" [ 1 , -0 , 1e2 , 1E+2, 0.5e-1, 12345678901234567890, -9223372036854775808, 9223372036854775808, "a\"b\\c\/d\n", "", {} ] "#),
        t(r#"{"a":1,"a":2,"":3,"x.y":4,"[0]":5}"#),
        t("123"), t("-1.5"), t(r#""str""#), t("true"), t("false"), t("null"), t("{"), t("[1,]"), t("01"), t(""), t("{a:1}"), t("'x'"), t("[1] x"),
        t(r#""\ud83d\ude00\u00e9""#), t("\"tab\there\""), t("[1e400,-1e400]"), Value::Integer(42), Value::Real(1.5), Value::Null, t(" {\"k\" :\t\n{\"k\":[3, 4]}} "),
        t(&("[".repeat(1000) + &"]".repeat(1000))), t(&("[".repeat(1001) + &"]".repeat(1001))),
        t("{a:0x1F, 'b':.5, c:[1,2,], d:+Infinity, e:'it\\'s', f:5., // c\n g:NaN}"), t("{\"a\":1,}"), t("/* c */ [1] // x"), t("'x\\x41\\v\\0'"),
        t("[-0x10, +5, -.5e3, 1.e2, -Infinity, inf, QNaN, 0xFFFFFFFFFFFFFFFF, 0x10000000000000000]"), t("[0x]"), t("\"\\u00e9\\ud83d\\ude00\""),
        t("{\"a\" \n : 1 , \"b\":2 }"), t("[1 , 2 ]"), t("{$k_1:1, \\u0041b:2}"), t("\u{a0}[1]\u{feff}"), t("[\"a\\\nb\"]"), t("'a\"b'"), t("[1]\u{0}junk"),
        t("{\"a\":1 /* c */ , b : 2}"), t("[1e5, 1E-2, -0.0, 0e0]"), t("[.e1]"), t("[1.5e]"), t("[- 1]"), t("{\"a\"}"), t("{\"a\":}"),
        Value::Blob(vec![0x00]),
        Value::Blob(b"[1,2]".to_vec()),
        Value::Blob(vec![0x5b, 0x13, b'1', 0x27, b'a', b'b']),
        Value::Blob(vec![0x9f]),
        Value::Blob(vec![0x2b, 0x13, b'1']),
        Value::Blob(vec![]),
    ];
    let paths = [
        "$",
        "$.a",
        "$.a[0]",
        "$.a[1]",
        "$.a[2]",
        "$.a[3]",
        "$.a[4]",
        "$.a[5]",
        "$.a[5].b",
        "$.a[#]",
        "$.a[#-1]",
        "$.a[#-6]",
        "$.a[#-7]",
        "$.\"c d\"",
        "$.c d",
        "$[0]",
        "$[1]",
        "$[2]",
        "$[5]",
        "$[6]",
        "$[7]",
        "$[8]",
        "$[9]",
        "$[10]",
        "$[#-1]",
        "$.e.f.g[0]",
        "$.e.f.g[0][0]",
        "$.a.",
        "$.",
        "$[",
        "$[a]",
        "$x",
        "a",
        "",
        "$.\"a",
        "$.a[0",
        "$[-1]",
        "$.zz.",
        "$.zz[",
        "$.\"\"",
        "$.\"x.y\"",
        "$.x.y",
        "$.\"[0]\"",
        "$.k.k[1]",
        "$[#-0]",
        "$[#]",
    ];
    for doc in &docs {
        for f in [
            "json",
            "json_valid",
            "json_type",
            "json_array_length",
            "json_quote",
        ] {
            d.call(f, std::slice::from_ref(doc));
        }
        for p in paths {
            d.call("json_extract", &[doc.clone(), t(p)]);
            d.call("json_type", &[doc.clone(), t(p)]);
            d.call("json_array_length", &[doc.clone(), t(p)]);
            let ours_arrow = func::scalar("json_arrow", 2).unwrap()(
                &[doc.clone(), t(p)],
                &mut FuncContext::default(),
            )
            .map_err(|e| e.to_string());
            d.check("SELECT ?1 -> ?2", &[doc.clone(), t(p)], ours_arrow);
            let ours_arrow2 = func::scalar("json_arrow2", 2).unwrap()(
                &[doc.clone(), t(p)],
                &mut FuncContext::default(),
            )
            .map_err(|e| e.to_string());
            d.check("SELECT ?1 ->> ?2", &[doc.clone(), t(p)], ours_arrow2);
        }
        for p in ["a", "c d", "b", "0", "[0]", "[#-1]", "e", "x.y", "[0", ""] {
            for arrow in ["->", "->>"] {
                let name = if arrow == "->" {
                    "json_arrow"
                } else {
                    "json_arrow2"
                };
                let ours = func::scalar(name, 2).unwrap()(
                    &[doc.clone(), t(p)],
                    &mut FuncContext::default(),
                )
                .map_err(|e| e.to_string());
                d.check(&format!("SELECT ?1 {arrow} ?2"), &[doc.clone(), t(p)], ours);
            }
        }
        for i in [0i64, 1, 5, -1] {
            for arrow in ["->", "->>"] {
                let name = if arrow == "->" {
                    "json_arrow"
                } else {
                    "json_arrow2"
                };
                let ours = func::scalar(name, 2).unwrap()(
                    &[doc.clone(), Value::Integer(i)],
                    &mut FuncContext::default(),
                )
                .map_err(|e| e.to_string());
                d.check(
                    &format!("SELECT ?1 {arrow} ?2"),
                    &[doc.clone(), Value::Integer(i)],
                    ours,
                );
            }
        }
        d.call(
            "json_extract",
            &[doc.clone(), t("$[0]"), t("$.a"), t("$.zz")],
        );
        d.call("json_extract", &[doc.clone(), t("$"), Value::Null]);
        d.call("json_extract", &[doc.clone(), Value::Null]);
        d.call("json_valid", &[doc.clone(), Value::Integer(1)]);
    }
    let sqlv = [
        Value::Null,
        Value::Integer(-7),
        Value::Real(1.5),
        Value::Real(1e20),
        Value::Real(f64::INFINITY),
        Value::Real(0.1),
        t("a\"b\\\n\t\u{1}é'"),
        t(""),
        Value::Blob(vec![0x9f]),
        Value::Blob(vec![0x00]),
        Value::Blob(vec![0x5b, 0x13, b'1', 0x27, b'a', b'b']),
    ];
    for a in &sqlv {
        d.call("json_quote", std::slice::from_ref(a));
        d.call("json_array", std::slice::from_ref(a));
        d.call("json_object", &[t("k"), a.clone()]);
        d.call("json_object", &[a.clone(), t("v")]);
        for b in &sqlv {
            d.call("json_array", &[a.clone(), b.clone()]);
        }
    }
    d.call("json_array", &[]);
    d.call("json_object", &[]);
    d.call("json_object", &[t("a")]);
    d.call("json_valid", &[t("{}"), Value::Integer(0)]);
    d.call("json_valid", &[t("{}"), Value::Integer(16)]);
    d.call("json_valid", &[t("{}"), Value::Integer(2)]);
    d.finish("json");
}

#[test]
fn json_each_table() {
    let mut d = Diff::new();
    let docs = [
        "{a:0x1F, 'b':.5, c:[1,2,], d:+Infinity, e:'it\\'s'}",
        r#"{"a":[1,2.5,"x",true,null,{"b":"\u0041"}],"c d":-3,"e":{"f":{"g":[[]]}},"long":"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789"}"#,
        "[10, [20, 30], \"x\", {\"k\": 1}]",
        "42",
        "\"s\"",
        "{\"1a\":1,\"_b\":2,\"\":3,\"a\\\"q\":4}",
        "[]",
    ];
    let roots = [
        None,
        Some("$"),
        Some("$.a"),
        Some("$.a[1]"),
        Some("$[1]"),
        Some("$.e"),
        Some("$.e.f"),
        Some("$[3]"),
        Some("$[3].k"),
        Some("$.zz"),
        Some("x"),
        Some("$.a[5].b"),
        Some("$.long"),
    ];
    for doc in docs {
        for root in roots {
            let (sql, params) = match root {
                None => ("SELECT key, value, type, atom, id, parent, fullkey, path FROM json_each(?1)".to_string(), vec![t(doc)]),
                Some(r) => ("SELECT key, value, type, atom, id, parent, fullkey, path FROM json_each(?1, ?2)".to_string(), vec![t(doc), t(r)]),
            };
            d.cases += 1;
            let theirs: Result<Vec<Vec<Value>>, String> = (|| {
                let mut stmt = d.conn.prepare(&sql).map_err(|e| e.to_string())?;
                let sp: Vec<SqlValue> = params.iter().map(to_sql).collect();
                let mut rows = stmt
                    .query(rusqlite::params_from_iter(sp.iter()))
                    .map_err(|e| e.to_string())?;
                let mut out = Vec::new();
                while let Some(r) = rows.next().map_err(|e| e.to_string())? {
                    out.push((0..8).map(|i| from_sql(r.get_ref(i).unwrap())).collect());
                }
                Ok(out)
            })();
            let ours: Result<Vec<Vec<Value>>, String> = func::json_each(doc, root)
                .map(|rows| rows.iter().map(|r| r.columns().to_vec()).collect())
                .map_err(|e| e.to_string());
            let ok = match (&theirs, &ours) {
                (Ok(a), Ok(b)) => {
                    a.len() == b.len()
                        && a.iter()
                            .zip(b)
                            .all(|(x, y)| x.iter().zip(y).all(|(p, q)| same(p, q)))
                }
                (Err(_), Err(_)) => true,
                _ => false,
            };
            if !ok {
                d.failures.push(format!(
                    "json_each({doc}, {root:?}): sqlite {theirs:?}, dosql {ours:?}"
                ));
            }
        }
    }
    d.finish("json_each");
}

#[test]
fn json_editing() {
    let mut d = Diff::new();
    let docs = [
        t(r#"{"a":[1,2,3],"b":{"c":1},"d":"x"}"#),
        t("[1,[2,3],{\"k\":[]}]"),
        t("5"),
        t("{a:1,'b':[.5,],}"),
        t("{"),
        Value::Null,
    ];
    let paths = [
        "$",
        "$.a",
        "$.a[0]",
        "$.a[3]",
        "$.a[4]",
        "$.a[#]",
        "$.a[#-1]",
        "$.a[#-9]",
        "$.b.c",
        "$.b.c.d",
        "$.x",
        "$.x.y",
        "$.x[0]",
        "$.x[1]",
        "$.x.y[#].z",
        "$[0]",
        "$[1][1]",
        "$[1][2]",
        "$[3]",
        "$[9]",
        "$[2].k[0]",
        "$[2].k[#]",
        "$.\"a\"",
        "$.\"new key\"",
        "$.",
        "$[",
        "x",
        "$.a[x]",
        "$.zz.",
        "$[#-0]",
    ];
    let vals = [Value::Integer(7), t("s"), Value::Null, Value::Real(1.5)];
    for doc in &docs {
        for (i, p) in paths.iter().enumerate() {
            d.call("json_remove", &[doc.clone(), t(p)]);
            let v = vals[i % vals.len()].clone();
            for f in ["json_set", "json_insert", "json_replace"] {
                d.call(f, &[doc.clone(), t(p), v.clone()]);
                d.call(
                    f,
                    &[doc.clone(), t(p), v.clone(), t("$.a[#]"), Value::Integer(9)],
                );
            }
        }
        d.call(
            "json_remove",
            &[doc.clone(), t("$.a[0]"), t("$.a[0]"), t("$[0]")],
        );
        d.call("json_remove", &[doc.clone(), Value::Null]);
        d.call("json_remove", std::slice::from_ref(doc));
        d.call("json_set", &[doc.clone(), t("$.a")]);
        d.call("json_set", &[doc.clone(), Value::Null, Value::Integer(1)]);
        d.call("json_set", std::slice::from_ref(doc));
    }
    d.finish("json editing");
}

#[test]
fn json_patch_pretty_and_unhex() {
    let mut d = Diff::new();
    let docs = [
        t(r#"{"a":1,"b":{"c":2,"d":3},"x":[1]}"#),
        t(r#"{"a":null,"b":{"c":9,"e":null},"n":{"f":null,"g":{"h":1}},"x":{"y":1}}"#),
        t("[1,2]"),
        t("5"),
        t("null"),
        t("{}"),
        t("{a:1,'b\\u0041':2}"),
        t(r#"{"bA":7,"\u0061":8}"#),
        t("{"),
        Value::Null,
    ];
    for a in &docs {
        d.call("json_pretty", std::slice::from_ref(a));
        d.call("json_pretty", &[a.clone(), t("\t")]);
        d.call("json_pretty", &[a.clone(), Value::Null]);
        d.call("json_pretty", &[a.clone(), t("")]);
        for b in &docs {
            d.call("json_patch", &[a.clone(), b.clone()]);
        }
    }
    for h in [
        "",
        "00ff",
        "00FF",
        "0",
        "0g",
        "12-34",
        "12 34",
        "1 234",
        "ÿ12",
        "12\u{0}34",
        "abcdef",
    ] {
        d.call("unhex", &[t(h)]);
        for pass in ["", "-", " -", "ÿ"] {
            d.call("unhex", &[t(h), t(pass)]);
        }
        d.call("unhex", &[t(h), Value::Null]);
    }
    d.call("unhex", &[Value::Null]);
    d.call("unhex", &[Value::Integer(1234)]);
    d.finish("json_patch/json_pretty/unhex");
}
