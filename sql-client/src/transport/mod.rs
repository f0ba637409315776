//! Transports: how requests reach a database.
//!
//! ```text
//!   Client ──┬── ws::WsConn   one socket, pipelined, ids matched by a task
//!            └── http::Http   POST /v1/pipeline (one session per body)
//!                             POST /v1/batch
//! ```
//!
//! [`Endpoint`] derives every URL from the database URL the caller gives
//! (`http://host:port/db/NAME`, or its `ws://` twin).

pub(crate) mod http;
pub(crate) mod ws;

use shared_types::Response;

use crate::error::{Error, Result};

/// The URLs of one database.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    pub ws: String,
    pub pipeline: String,
    pub batch: String,
    /// The value of the Authorization header.
    pub auth: String,
}

impl Endpoint {
    /// Parses a database URL: scheme http, https, ws or wss, and a path
    /// ending in `/db/NAME` (a prefix before it is kept).
    pub fn parse(url: &str, token: &str) -> Result<Endpoint> {
        let bad = |why: &str| Error::Invalid(format!("{url:?} is not a database URL: {why}"));
        let mut u = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        let (http, ws) = match u.scheme() {
            "http" | "ws" => ("http", "ws"),
            "https" | "wss" => ("https", "wss"),
            _ => return Err(bad("the scheme must be http, https, ws or wss")),
        };
        if u.host_str().is_none() {
            return Err(bad("no host"));
        }
        if u.query().is_some() || u.fragment().is_some() {
            return Err(bad("a query or fragment is not allowed"));
        }
        let path = u.path().trim_end_matches('/').to_owned();
        let segments: Vec<&str> = path.split('/').collect();
        match segments.as_slice() {
            [.., "db", name] if !name.is_empty() => {}
            _ => return Err(bad("the path must end with /db/NAME")),
        }
        u.set_path(&path);
        let at = |scheme: &str, suffix: &str| {
            let mut v = u.clone();
            v.set_scheme(scheme)
                .expect("http and ws schemes are interchangeable");
            format!("{}/v1/{suffix}", v.as_str().trim_end_matches('/'))
        };
        if token.contains(['\r', '\n']) {
            return Err(Error::Invalid("the token contains a line break".into()));
        }
        Ok(Endpoint {
            ws: at(ws, "ws"),
            pipeline: at(http, "pipeline"),
            batch: at(http, "batch"),
            auth: format!("Bearer {token}"),
        })
    }
}

/// An error response becomes an error; anything else is the answer.
pub(crate) fn answer(response: Response) -> Result<Response> {
    match response {
        Response::Error(e) => Err(Error::Server(e)),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_derive_from_the_database_url() {
        let e = Endpoint::parse("http://127.0.0.1:8787/db/my_db/", "t").unwrap();
        assert_eq!(e.ws, "ws://127.0.0.1:8787/db/my_db/v1/ws");
        assert_eq!(e.pipeline, "http://127.0.0.1:8787/db/my_db/v1/pipeline");
        assert_eq!(e.batch, "http://127.0.0.1:8787/db/my_db/v1/batch");
        assert_eq!(e.auth, "Bearer t");
        let e = Endpoint::parse("wss://example.com/api/db/x", "t").unwrap();
        assert_eq!(e.ws, "wss://example.com/api/db/x/v1/ws");
        assert_eq!(e.batch, "https://example.com/api/db/x/v1/batch");
    }

    #[test]
    fn bad_urls_are_refused_with_reasons() {
        for (url, why) in [
            ("127.0.0.1:8787/db/x", "relative URL"),
            ("ftp://h/db/x", "scheme"),
            ("http://h/x", "/db/NAME"),
            ("http://h/db/", "/db/NAME"),
            ("http://h/db/x?a=1", "query"),
            ("not a url", "not a database URL"),
        ] {
            let e = Endpoint::parse(url, "t").unwrap_err().to_string();
            assert!(e.contains(why), "{url}: {e}");
        }
        assert!(Endpoint::parse("http://h/db/x", "a\nb").is_err());
    }
}
