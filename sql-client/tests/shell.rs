//! The `dosql` binary against a real `dosql-server`: scripts piped in,
//! output checked, and `.dump` replayed into a fresh database.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use dosql_testkit::{Server, TOKEN};

fn dosql(url: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dosql"))
        .arg(url)
        .args(args)
        .env("DOSQL_TOKEN", TOKEN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dosql");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().expect("dosql output")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_piped_script_prints_tables_and_errors() {
    let server = Server::start();
    let out = dosql(
        &server.url("shell"),
        &[],
        "CREATE TABLE t(id INTEGER PRIMARY KEY,\n  name TEXT); -- a comment; with semicolons\n\
         INSERT INTO t VALUES (1, 'a;b'), (2, NULL), (-9223372036854775808, 'min');\n\
         SELECT id, name FROM t\n  ORDER BY id;\n\
         SELEC oops;\n\
         .tables\n\
         .schema t\n\
         .timer on\n\
         SELECT count(*) AS n FROM t;\n\
         .nope\n",
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    let table = "\
+----------------------+------+
| id                   | name |
+----------------------+------+
| -9223372036854775808 | min  |
|                    1 | a;b  |
|                    2 | NULL |
+----------------------+------+
(3 rows)
";
    assert!(stdout.starts_with(table), "{stdout}");
    let rest = &stdout[table.len()..];
    // `.tables`, then `.schema t`: the CREATE text as the schema stores it.
    let mut lines = rest.lines();
    assert_eq!(lines.next(), Some("t"), "{rest}");
    let create = lines.next().unwrap_or_default();
    assert!(create.starts_with("CREATE TABLE t"), "{rest}");
    assert!(
        create.contains("id INTEGER PRIMARY KEY") && create.ends_with(';'),
        "{rest}"
    );
    assert!(
        rest.contains("| n |\n+---+\n| 3 |\n+---+\n(1 row)\nRun Time: real "),
        "{rest}"
    );
    assert!(stderr.contains("Error: SYNTAX"), "{stderr}");
    assert!(stderr.contains("unknown command .nope"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "errors make a script fail");
}

#[test]
fn command_and_file_modes() {
    let server = Server::start();
    let url = server.url("modes");
    let out = dosql(
        &url,
        &[
            "-c",
            "CREATE TABLE x(a); INSERT INTO x VALUES (42); SELECT a FROM x",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("| 42 |"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("script.sql");
    let inner = dir.path().join("inner.sql");
    std::fs::write(&inner, "SELECT a + 1 AS plus\n  FROM x;\n").unwrap();
    std::fs::write(
        &file,
        format!(
            "SELECT a * 2 AS d FROM x;\n.read '{}'\n.read missing.sql\n",
            inner.display()
        ),
    )
    .unwrap();
    let out = dosql(&url, &["--file", file.to_str().unwrap()], "");
    assert!(text(&out.stdout).contains("| 84 |"));
    assert!(
        text(&out.stdout).contains("|   43 |"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stderr).contains("cannot read missing.sql"));
    assert_eq!(out.status.code(), Some(1));
    let out = Command::new(env!("CARGO_BIN_EXE_dosql"))
        .args([url.as_str(), "--token", "wrong", "-c", "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("AUTH"), "{}", text(&out.stderr));
}

#[test]
fn import_then_dump_recreates_the_database_exactly() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("people.csv");
    let mut data = String::from("id,full name,note\n");
    for i in 0..1234 {
        data.push_str(&format!("{i},\"Person, {i}\",\"say \"\"hi\"\"\"\n"));
    }
    std::fs::write(&csv, &data).unwrap();
    let script = format!(
        ".import '{}' people\n\
         SELECT count(*), min(id), max(\"full name\") FROM people;\n\
         CREATE TABLE vals(i INTEGER PRIMARY KEY, r REAL, t TEXT, b BLOB);\n\
         INSERT INTO vals VALUES (9223372036854775807, 0.1, 'it''s', X'00FF10'),\n\
           (-9223372036854775808, 1e300, '', X''), (3, -0.5, NULL, NULL), (4, 2.0, 'x\ny', X'7F');\n\
         CREATE INDEX vals_t ON vals(t);\n\
         CREATE VIEW v AS SELECT i FROM vals;\n",
        csv.display()
    );
    let src = server.url("src");
    let out = dosql(&src, &[], &script);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("|     1234 | 0       | Person, 999      |"),
        "{}",
        text(&out.stdout)
    );

    let dump = dosql(&src, &["-c", ".dump"], "");
    assert!(dump.status.success(), "{}", text(&dump.stderr));
    let dump = text(&dump.stdout);
    assert!(dump.starts_with("BEGIN TRANSACTION;\n"), "{dump}");
    assert!(dump.ends_with("COMMIT;\n"));
    assert!(
        dump.contains("INSERT INTO vals VALUES(9223372036854775807,0.1,'it''s',X'00FF10');"),
        "{dump}"
    );
    assert!(dump.contains("INSERT INTO vals VALUES(-9223372036854775808,1e300,'',X'');"));
    assert!(dump.contains("INSERT INTO vals VALUES(4,2.0,'x\ny',X'7F');"));
    assert!(dump.contains("INSERT INTO people VALUES('1233','Person, 1233','say \"hi\"');"));

    // Replaying the dump into an empty database gives the same dump.
    let copy = server.url("copy");
    let out = dosql(&copy, &[], &dump);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let again = dosql(&copy, &["-c", ".dump"], "");
    assert_eq!(text(&again.stdout), dump);
    let types = dosql(
        &copy,
        &[
            "-c",
            "SELECT typeof(i), typeof(r), typeof(b) FROM vals WHERE i = 4",
        ],
        "",
    );
    assert!(
        text(&types.stdout).contains("| integer   | real      | blob      |"),
        "{}",
        text(&types.stdout)
    );
}

#[test]
fn importing_into_an_existing_table_takes_every_row() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("n.csv");
    std::fs::write(&csv, "1,one\n2\n3,three,extra\n").unwrap();
    let out = dosql(
        &server.url("imp"),
        &[],
        &format!(
            "CREATE TABLE n(k INTEGER PRIMARY KEY, v TEXT);\n.import {} n\nSELECT k, typeof(k), v FROM n ORDER BY k;\n",
            csv.display()
        ),
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("| 1 | integer   | one   |"), "{stdout}");
    assert!(stdout.contains("| 2 | integer   | NULL  |"), "{stdout}");
    assert!(stdout.contains("| 3 | integer   | three |"), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("line 2: expected 2 columns but found 1"),
        "{stderr}"
    );
    assert!(stderr.contains("extras ignored"), "{stderr}");
}
