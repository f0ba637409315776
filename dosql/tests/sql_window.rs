//! Window functions, compared with real SQLite (rusqlite, bundled).
//!
//! Every query runs in both engines over the same tables; rows must match
//! exactly (types and values, reals by `==`), and a query that fails in
//! SQLite must fail in DoSQL with the same message. Three parts: a few
//! results spelled out, hand-picked queries covering every function and
//! clause, and a few hundred random window queries over random data.

mod sql_pair;

use dosql::sql::Value;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sql_pair::Pair;

const SETUP: &str = "
    CREATE TABLE t(id INTEGER PRIMARY KEY, g INTEGER, x INTEGER, y REAL, s TEXT);
    INSERT INTO t VALUES
      (1, 1, 10, 1.5, 'a'), (2, 1, 20, NULL, 'b'), (3, 1, 20, 2.5, 'c'),
      (4, 2, NULL, 0.5, 'd'), (5, 2, 5, 4.0, NULL), (6, 2, 7, 4.0, 'f'),
      (7, NULL, 3, -1.0, 'g'), (8, 3, 3, 2.0, 'B'), (9, 3, 30, 2.0, 'a'),
      (10, 3, 1, 9.25, 'e');
";

#[test]
fn basic_results() {
    let mut p = Pair::new(SETUP);
    let rows = p
        .dosql(
            "SELECT id, row_number() OVER w, rank() OVER w, dense_rank() OVER w, \
             sum(x) OVER w FROM t WHERE g = 1 WINDOW w AS (ORDER BY x) ORDER BY id",
        )
        .unwrap();
    let text: Vec<String> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| match v {
                    Value::Integer(i) => i.to_string(),
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    // Peers (x = 20) share rank and the default RANGE frame.
    assert_eq!(text, ["1|1|1|1|10", "2|2|2|2|50", "3|3|2|2|50"]);
}

#[test]
fn every_function_and_clause_matches_sqlite() {
    let mut p = Pair::new(SETUP);
    p.check_all(&[
        "SELECT id, row_number() OVER () FROM t ORDER BY id",
        "SELECT id, row_number() OVER (ORDER BY x, id) FROM t ORDER BY id",
        "SELECT id, rank() OVER (PARTITION BY g ORDER BY x) FROM t ORDER BY id",
        "SELECT id, dense_rank() OVER (ORDER BY y DESC) FROM t ORDER BY id",
        "SELECT id, percent_rank() OVER (PARTITION BY g ORDER BY y) FROM t ORDER BY id",
        "SELECT id, cume_dist() OVER (ORDER BY x) FROM t ORDER BY id",
        "SELECT id, ntile(3) OVER (ORDER BY id) FROM t ORDER BY id",
        "SELECT id, ntile(4) OVER (PARTITION BY g ORDER BY id) FROM t ORDER BY id",
        "SELECT id, lag(x) OVER (ORDER BY id), lead(x) OVER (ORDER BY id) FROM t ORDER BY id",
        "SELECT id, lag(x, 2, -1) OVER (ORDER BY id), lead(s, 3, 'z') OVER (ORDER BY id) FROM t ORDER BY id",
        "SELECT id, lag(x, 0) OVER (ORDER BY id), lag(x, -1) OVER (ORDER BY id), lag(x, 1.5) OVER (ORDER BY id), lag(x, '1') OVER (ORDER BY id) FROM t ORDER BY id",
        "SELECT id, first_value(s) OVER (PARTITION BY g ORDER BY id), last_value(s) OVER (PARTITION BY g ORDER BY id) FROM t ORDER BY id",
        "SELECT id, last_value(x) OVER (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM t ORDER BY id",
        "SELECT id, nth_value(x, 2) OVER (ORDER BY id), nth_value(s, 3) OVER (PARTITION BY g) FROM t ORDER BY id",
        "SELECT id, count(*) OVER (), count(x) OVER (), sum(x) OVER (), total(x) OVER (), avg(y) OVER () FROM t ORDER BY id",
        "SELECT id, min(x) OVER (ORDER BY id), max(s) OVER (ORDER BY id) FROM t ORDER BY id",
        "SELECT id, group_concat(s) OVER (ORDER BY id), group_concat(x, '-') OVER (PARTITION BY g ORDER BY id) FROM t ORDER BY id",
        "SELECT id, sum(x) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM t ORDER BY id",
        "SELECT id, sum(y) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t ORDER BY id",
        "SELECT id, avg(y) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND 2 FOLLOWING) FROM t ORDER BY id",
        "SELECT id, sum(x) OVER (ORDER BY id ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING) FROM t ORDER BY id",
        "SELECT id, sum(x) OVER (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND 3 FOLLOWING) FROM t ORDER BY id",
        "SELECT id, sum(x) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND 3 PRECEDING) FROM t ORDER BY id",
        "SELECT id, min(x) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING), max(y) OVER (ORDER BY id ROWS 2 PRECEDING) FROM t ORDER BY id",
        "SELECT id, group_concat(s, '+') OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t ORDER BY id",
        "SELECT id, sum(x) OVER (ORDER BY x RANGE BETWEEN 5 PRECEDING AND 5 FOLLOWING) FROM t ORDER BY id",
        "SELECT id, sum(x) OVER (ORDER BY x DESC RANGE BETWEEN 5 PRECEDING AND CURRENT ROW) FROM t ORDER BY id",
        "SELECT id, count(*) OVER (ORDER BY y RANGE BETWEEN 1.5 PRECEDING AND 0.5 FOLLOWING) FROM t ORDER BY id",
        "SELECT id, count(*) OVER (ORDER BY s RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM t ORDER BY id",
        "SELECT id, count(*) OVER (ORDER BY x NULLS LAST RANGE BETWEEN 2 PRECEDING AND 2 FOLLOWING) FROM t ORDER BY id",
        "SELECT id, count(*) OVER (ORDER BY x DESC NULLS FIRST RANGE BETWEEN 2 PRECEDING AND 2 FOLLOWING) FROM t ORDER BY id",
        "SELECT id, sum(x) OVER (ORDER BY x GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM t ORDER BY id",
        "SELECT id, sum(x) OVER (ORDER BY y GROUPS BETWEEN CURRENT ROW AND 2 FOLLOWING) FROM t ORDER BY id",
        "SELECT id, sum(x) OVER (ORDER BY x RANGE CURRENT ROW) FROM t ORDER BY id",
        "SELECT id, sum(x) OVER (ORDER BY x ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE CURRENT ROW) FROM t ORDER BY id",
        "SELECT id, sum(x) OVER (ORDER BY x RANGE BETWEEN 10 PRECEDING AND 10 FOLLOWING EXCLUDE GROUP) FROM t ORDER BY id",
        "SELECT id, sum(x) OVER (ORDER BY x GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE TIES) FROM t ORDER BY id",
        "SELECT id, group_concat(id) OVER (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING EXCLUDE NO OTHERS) FROM t ORDER BY id",
        "SELECT id, first_value(id) OVER (ORDER BY x ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE CURRENT ROW), nth_value(id, 2) OVER (ORDER BY x GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE GROUP) FROM t ORDER BY id",
        "SELECT id, count(*) FILTER (WHERE x > 5) OVER (ORDER BY id), sum(x) FILTER (WHERE g = 1) OVER (ORDER BY id ROWS 2 PRECEDING) FROM t ORDER BY id",
        "SELECT id, max(x) FILTER (WHERE x < 20) OVER (ORDER BY id ROWS 2 PRECEDING) FROM t ORDER BY id",
        "SELECT count(*) FILTER (WHERE x > 5), sum(x) FILTER (WHERE g = 1), count(*) FROM t",
        "SELECT g, count(*) FILTER (WHERE y > 1) FROM t GROUP BY g ORDER BY g",
        "SELECT id, sum(x) OVER w, avg(x) OVER (w ROWS 1 PRECEDING) FROM t WINDOW w AS (PARTITION BY g ORDER BY id) ORDER BY id",
        "SELECT id, rank() OVER w FROM t WINDOW v AS (PARTITION BY g), w AS (v ORDER BY x) ORDER BY id",
        "SELECT g, sum(x), rank() OVER (ORDER BY sum(x) DESC), sum(sum(x)) OVER () FROM t GROUP BY g ORDER BY g",
        "SELECT g, count(*) AS n, row_number() OVER (ORDER BY count(*), g) FROM t GROUP BY g HAVING count(*) > 1 ORDER BY g",
        "SELECT id, row_number() OVER (ORDER BY id DESC) AS r FROM t ORDER BY r",
        "SELECT id, x FROM t ORDER BY rank() OVER (ORDER BY x), id",
        "SELECT DISTINCT g, count(*) OVER (PARTITION BY g) FROM t ORDER BY g",
        "SELECT id, x - lag(x) OVER (ORDER BY id) FROM t ORDER BY id LIMIT 4",
        "SELECT * FROM (SELECT id, row_number() OVER (PARTITION BY g ORDER BY x DESC) AS r FROM t) WHERE r = 1 ORDER BY id",
        "SELECT id, (SELECT count(*) OVER () FROM t AS u WHERE u.g = t.g LIMIT 1) FROM t ORDER BY id",
        "SELECT id, row_number() OVER (ORDER BY s COLLATE NOCASE, id) FROM t ORDER BY id",
        "SELECT id, sum(x) OVER (PARTITION BY s COLLATE NOCASE) FROM t ORDER BY id",
        "SELECT id, sum(x) OVER (ORDER BY x ROWS BETWEEN (SELECT 1) PRECEDING AND 1 + 1 FOLLOWING) FROM t ORDER BY id",
        "SELECT sum(y) OVER (ORDER BY id ROWS 1 PRECEDING) FROM t ORDER BY id",
        "SELECT total(x) OVER (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND 2 FOLLOWING), count(x) OVER (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND 2 FOLLOWING) FROM t ORDER BY id",
        "SELECT id, sum(x) OVER (ORDER BY x RANGE BETWEEN 3 FOLLOWING AND 1 FOLLOWING) FROM t ORDER BY id",
        "SELECT x, row_number() OVER (ORDER BY x), row_number() OVER (ORDER BY y) FROM t",
        "SELECT x, sum(x) OVER (PARTITION BY g) FROM t",
        "SELECT id, json_group_array(x) OVER (ORDER BY id ROWS 1 PRECEDING) FROM t ORDER BY id",
        // Errors, with SQLite's messages.
        "SELECT id FROM t WHERE row_number() OVER () > 1",
        "SELECT g FROM t GROUP BY row_number() OVER ()",
        "SELECT g, count(*) FROM t GROUP BY g HAVING rank() OVER () > 1",
        "SELECT row_number() FROM t",
        "SELECT row_number(1) OVER () FROM t",
        "SELECT ntile(0) OVER () FROM t",
        "SELECT ntile('x') OVER () FROM t",
        "SELECT nth_value(x, 0) OVER () FROM t",
        "SELECT nth_value(x, 1.5) OVER () FROM t",
        "SELECT sum(DISTINCT x) OVER () FROM t",
        "SELECT abs(x) OVER () FROM t",
        "SELECT nosuch(x) OVER () FROM t",
        "SELECT rank() FILTER (WHERE x > 1) OVER () FROM t",
        "SELECT sum(x) OVER (ROWS BETWEEN -1 PRECEDING AND CURRENT ROW) FROM t",
        "SELECT sum(x) OVER (ROWS BETWEEN 1.5 PRECEDING AND CURRENT ROW) FROM t",
        "SELECT sum(x) OVER (ORDER BY x RANGE BETWEEN 'a' PRECEDING AND CURRENT ROW) FROM t",
        "SELECT sum(x) OVER (ROWS BETWEEN CURRENT ROW AND 1 PRECEDING) FROM t",
        "SELECT sum(x) OVER (ROWS BETWEEN 1 FOLLOWING AND CURRENT ROW) FROM t",
        "SELECT sum(x) OVER (RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t",
        "SELECT sum(x) OVER (ORDER BY x, y RANGE 1 PRECEDING) FROM t",
        "SELECT sum(x) OVER nosuch FROM t",
        "SELECT sum(x) OVER (w PARTITION BY g) FROM t WINDOW w AS (ORDER BY x)",
        "SELECT sum(x) OVER (w ORDER BY y) FROM t WINDOW w AS (ORDER BY x)",
        "SELECT sum(x) OVER (w) FROM t WINDOW w AS (ORDER BY x ROWS CURRENT ROW)",
        "SELECT sum(sum(x) OVER ()) OVER () FROM t",
        "SELECT abs(x) FILTER (WHERE x > 1) FROM t",
    ]);
}

/// A random window specification and function call.
fn random_query(rng: &mut SmallRng) -> String {
    let funcs = [
        "row_number()",
        "rank()",
        "dense_rank()",
        "percent_rank()",
        "cume_dist()",
        "ntile(3)",
        "ntile(7)",
        "lag(x)",
        "lead(y, 2)",
        "lag(s, 1, 'none')",
        "first_value(x)",
        "last_value(s)",
        "nth_value(y, 2)",
        "count(*)",
        "count(x)",
        "sum(x)",
        "sum(y)",
        "total(y)",
        "avg(x)",
        "avg(y)",
        "min(x)",
        "max(y)",
        "min(s)",
        "group_concat(x)",
        "group_concat(s, '.')",
    ];
    let f = funcs[rng.gen_range(0..funcs.len())];
    let filter = if f.starts_with(['c', 's', 't', 'a', 'm', 'g'])
        && !f.starts_with("cume")
        && rng.gen_bool(0.2)
    {
        " FILTER (WHERE x % 2 = 0)"
    } else {
        ""
    };
    let mut spec = Vec::new();
    if rng.gen_bool(0.5) {
        spec.push("PARTITION BY g".to_string());
    }
    let orders = [
        "x",
        "y",
        "s",
        "x DESC",
        "y DESC",
        "x NULLS LAST",
        "y DESC NULLS FIRST",
        "x, id",
        "g, y",
        "id",
    ];
    let ordered = rng.gen_bool(0.8);
    if ordered {
        spec.push(format!(
            "ORDER BY {}",
            orders[rng.gen_range(0..orders.len())]
        ));
    }
    if rng.gen_bool(0.7) {
        let units = ["ROWS", "RANGE", "GROUPS"][rng.gen_range(0..3)];
        let offsets = if units == "RANGE" {
            ["0", "1", "2", "2.5", "10"]
        } else {
            ["0", "1", "2", "3", "5"]
        };
        let bound = |start: bool, rng: &mut SmallRng| -> String {
            let off = offsets[rng.gen_range(0..offsets.len())];
            match rng.gen_range(0..5) {
                0 if start => "UNBOUNDED PRECEDING".into(),
                0 => "UNBOUNDED FOLLOWING".into(),
                1 => format!("{off} PRECEDING"),
                2 => "CURRENT ROW".into(),
                3 => format!("{off} FOLLOWING"),
                _ if start => "UNBOUNDED PRECEDING".into(),
                _ => "UNBOUNDED FOLLOWING".into(),
            }
        };
        let start = bound(true, rng);
        let end = bound(false, rng);
        let exclude = match rng.gen_range(0..8) {
            0 => " EXCLUDE CURRENT ROW",
            1 => " EXCLUDE GROUP",
            2 => " EXCLUDE TIES",
            3 => " EXCLUDE NO OTHERS",
            _ => "",
        };
        spec.push(format!("{units} BETWEEN {start} AND {end}{exclude}"));
    }
    format!(
        "SELECT id, {f}{filter} OVER ({}) FROM t ORDER BY id",
        spec.join(" ")
    )
}

fn random_setup(rng: &mut SmallRng) -> String {
    let mut sql = String::from(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, g INTEGER, x INTEGER, y REAL, s TEXT);\n",
    );
    let rows = rng.gen_range(0..40);
    for id in 1..=rows {
        let g = if rng.gen_bool(0.1) {
            "NULL".to_string()
        } else {
            rng.gen_range(0..4).to_string()
        };
        let x = if rng.gen_bool(0.15) {
            "NULL".to_string()
        } else {
            rng.gen_range(-5..15).to_string()
        };
        let y = match rng.gen_range(0..10) {
            0 => "NULL".to_string(),
            1 => rng.gen_range(-3..8).to_string(),
            2 => format!("{}.1", rng.gen_range(0..5)),
            _ => format!("{}", f64::from(rng.gen_range(-8..16)) * 0.25),
        };
        let s = match rng.gen_range(0..8) {
            0 => "NULL".to_string(),
            1 => rng.gen_range(0..5).to_string(),
            _ => format!("'{}'", ["a", "b", "B", "c", "ab", ""][rng.gen_range(0..6)]),
        };
        sql.push_str(&format!(
            "INSERT INTO t VALUES ({id}, {g}, {x}, {y}, {s});\n"
        ));
    }
    sql
}

#[test]
fn random_window_queries_match_sqlite() {
    let mut rng = SmallRng::seed_from_u64(0x57_1d_0e);
    let mut failures = Vec::new();
    let mut total = 0;
    for _ in 0..12 {
        let setup = random_setup(&mut rng);
        let mut p = Pair::new(&setup);
        for _ in 0..40 {
            let q = random_query(&mut rng);
            total += 1;
            if let Some(f) = p.diff(&q) {
                failures.push(format!("{f}\n  data:\n{setup}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} random queries differ:\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
