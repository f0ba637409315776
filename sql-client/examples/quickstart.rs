//! The README's Rust client example, built by `cargo test` so that it keeps
//! compiling.
//!
//! ```sh
//! dosql-server --listen 127.0.0.1:8787 --data ./data --token secret &
//! cargo run -p sql-client --example quickstart -- http://127.0.0.1:8787/db/app secret
//! ```

use serde::Deserialize;
use sql_client::{named, params, BatchStatement, Client};

#[derive(Deserialize)]
struct User {
    id: i64,
    name: String,
    avatar: Option<Vec<u8>>,
}

#[tokio::main]
async fn main() -> sql_client::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8787/db/app".into());
    let token = args.next().unwrap_or_else(|| "secret".into());

    let db = Client::connect(&url, &token).await?;
    db.execute(
        "CREATE TABLE IF NOT EXISTS users(id INTEGER PRIMARY KEY, name TEXT, avatar BLOB)",
        (),
    )
    .await?;
    let added = db
        .execute(
            "INSERT INTO users(name, avatar) VALUES (?, ?)",
            ("ada", vec![0u8, 1, 2]),
        )
        .await?;
    println!("inserted row {}", added.last_insert_rowid);

    // Prepared once, re-prepared transparently after a reconnect.
    let by_name = db
        .prepare("SELECT id, name, avatar FROM users WHERE name = :name")
        .await?;
    let users: Vec<User> = by_name.query(named! {"name" => "ada"}).await?.decode()?;
    for u in &users {
        println!("user {} {} avatar {:?}", u.id, u.name, u.avatar);
    }

    // All or nothing, over HTTP.
    db.batch(
        vec![
            BatchStatement::new("INSERT INTO users(name) VALUES (?)", params!["grace"]),
            BatchStatement::new("INSERT INTO users(name) VALUES (?)", params!["edsger"]),
        ],
        true,
    )
    .await?;

    // BEGIN .. COMMIT on a dedicated connection, re-run on CONFLICT.
    let total: i64 = db
        .transaction(|tx| async move {
            tx.execute("UPDATE users SET name = upper(name) WHERE id = 1", ())
                .await?;
            tx.query("SELECT count(*) FROM users", ()).await?.one()
        })
        .await?;
    println!("{total} users");
    Ok(())
}
