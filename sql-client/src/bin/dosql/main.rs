//! `dosql`: an interactive shell for a DoSQL database.
//!
//! ```text
//!   dosql URL [--token T] [-c SQL] [--file F] [--http]
//!     URL       http://host:port/db/NAME (or ws://, https://, wss://)
//!     --token   bearer token (default: $DOSQL_TOKEN)
//!     -c SQL    run SQL (statements and dot-commands) and exit
//!     --file F  run the file and exit
//!     --http    never use WebSockets
//! ```
//!
//! Interactive (a REPL with history in ~/.dosql_history) when stdin is a
//! terminal and neither -c nor --file is given; otherwise it reads its
//! input to the end and exits with status 1 if anything failed.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use sql_client::shell::{Flow, Shell};
use sql_client::{Client, Config};

const USAGE: &str = "usage: dosql URL [--token T] [-c SQL] [--file F] [--http]";

struct Args {
    url: String,
    token: String,
    command: Option<String>,
    file: Option<String>,
    http_only: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut url = None;
    let mut token = std::env::var("DOSQL_TOKEN").ok();
    let mut command = None;
    let mut file = None;
    let mut http_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--token" => token = Some(value("--token")?),
            "-c" => command = Some(value("-c")?),
            "--file" | "-f" => file = Some(value("--file")?),
            "--http" => http_only = true,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s if url.is_none() => url = Some(s.to_owned()),
            s => return Err(format!("unexpected argument {s}")),
        }
    }
    Ok(Args {
        url: url.ok_or("a database URL is required")?,
        token: token.ok_or("a token is required: --token T or DOSQL_TOKEN")?,
        command,
        file,
        http_only,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("dosql: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dosql: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = Config {
        http_only: args.http_only,
        ..Config::default()
    };
    let client = match runtime.block_on(Client::connect_with(&args.url, &args.token, config)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dosql: cannot connect to {}: {e}", args.url);
            return ExitCode::FAILURE;
        }
    };
    let mut shell = Shell::new(
        client,
        Box::new(std::io::stdout()),
        Box::new(std::io::stderr()),
    );
    let script = match (&args.command, &args.file) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(f)) => match std::fs::read_to_string(f) {
            Ok(text) => Some(text),
            Err(e) => {
                eprintln!("dosql: cannot read {f}: {e}");
                return ExitCode::FAILURE;
            }
        },
        (None, None) if !std::io::stdin().is_terminal() => {
            let mut text = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut text) {
                eprintln!("dosql: cannot read stdin: {e}");
                return ExitCode::FAILURE;
            }
            Some(text)
        }
        (None, None) => None,
    };
    match script {
        Some(text) => {
            runtime.block_on(shell.text(&text));
        }
        None => interactive(&runtime, &mut shell, &args.url),
    }
    if shell.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn interactive(runtime: &tokio::runtime::Runtime, shell: &mut Shell, url: &str) {
    use rustyline::error::ReadlineError;

    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("dosql: no line editor ({e}); reading plain lines");
            let mut text = String::new();
            let _ = std::io::stdin().read_to_string(&mut text);
            runtime.block_on(shell.text(&text));
            return;
        }
    };
    let history = std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".dosql_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    shell.timer = true;
    println!("Connected to {url}. Enter \".help\" for usage hints.");
    loop {
        let prompt = if shell.is_idle() {
            "dosql> "
        } else {
            "   ...> "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                if runtime.block_on(shell.line(&line)) == Flow::Quit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => shell.reset(),
            Err(ReadlineError::Eof) => {
                runtime.block_on(shell.finish());
                break;
            }
            Err(e) => {
                eprintln!("dosql: {e}");
                break;
            }
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
}
