//! HTTP: GETs to the catalog and the bucket, with the token, a timeout,
//! and failures mapped to [`Error`].
//!
//! ```text
//!   catalog  GET {catalog}/v1/[{prefix}/]...   Authorization: Bearer TOKEN
//!            non-2xx ─▶ REST ErrorModel ─▶ Error::from_catalog
//!   bucket   GET {s3.endpoint}/{bucket}/{key}  Authorization: Bearer TOKEN
//!            non-2xx ─▶ S3 <Error><Code> ─▶ Error::from_s3
//! ```
//!
//! URLs are built by pushing path segments, never by formatting strings,
//! so a namespace level or key segment is always exactly one segment
//! (`/` and U+001F inside one are percent-encoded).

use std::time::Duration;

use reqwest::Url;

use crate::error::{Error, Result};

/// A shared connection pool and the token.
#[derive(Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    auth: String,
    timeout: Duration,
}

/// A parsed base URL whose path segments can be extended.
pub(crate) fn base_url(url: &str, what: &str) -> Result<Url> {
    let u = Url::parse(url).map_err(|e| Error::InvalidInput(format!("{what} {url:?}: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") || u.cannot_be_a_base() {
        return Err(Error::InvalidInput(format!(
            "{what} {url:?} is not an http(s) URL"
        )));
    }
    Ok(u)
}

/// `base` with `segments` appended as path segments (each encoded).
pub(crate) fn join<S: AsRef<str>>(base: &Url, segments: &[S]) -> Url {
    let mut u = base.clone();
    u.path_segments_mut()
        .expect("base_url checked that the URL can be a base")
        .pop_if_empty()
        .extend(segments.iter().map(AsRef::as_ref));
    u
}

impl Http {
    pub fn new(token: &str, connect_timeout: Duration, timeout: Duration) -> Result<Http> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .build()
            .map_err(|e| Error::Transport(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http {
            client,
            auth: format!("Bearer {token}"),
            timeout,
        })
    }

    /// A catalog GET, decoded as JSON of type `T`.
    pub async fn catalog_json<T: serde::de::DeserializeOwned>(&self, url: Url) -> Result<T> {
        let (status, body) = self.get(url.clone()).await?;
        if !(200..300).contains(&status) {
            return Err(Error::from_catalog(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| {
            Error::Protocol(format!("GET {}: answer does not decode: {e}", url.path()))
        })
    }

    /// A whole object of the bucket.
    pub async fn object(&self, url: Url, key: &str) -> Result<Vec<u8>> {
        let (status, body) = self.get(url).await?;
        if !(200..300).contains(&status) {
            return Err(Error::from_s3(status, key, &body));
        }
        Ok(body)
    }

    async fn get(&self, url: Url) -> Result<(u16, Vec<u8>)> {
        let sent = self
            .client
            .get(url)
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .timeout(self.timeout)
            .send()
            .await;
        let response = sent.map_err(|e| self.failure(e))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| self.failure(e))?;
        Ok((status, body.to_vec()))
    }

    fn failure(&self, e: reqwest::Error) -> Error {
        if e.is_timeout() {
            Error::Timeout(self.timeout)
        } else {
            Error::Transport(format!("HTTP: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_one_by_one() {
        let base = base_url("http://h:1/lake/app/iceberg/", "catalog URL").unwrap();
        let u = join(&base, &["v1", "namespaces", "a\u{1f}b c", "tables", "x/y"]);
        assert_eq!(
            u.as_str(),
            "http://h:1/lake/app/iceberg/v1/namespaces/a%1Fb%20c/tables/x%2Fy"
        );
        let no_slash = base_url("http://h:1/iceberg", "catalog URL").unwrap();
        assert_eq!(join(&no_slash, &["v1"]).as_str(), "http://h:1/iceberg/v1");
    }

    #[test]
    fn only_http_urls_are_bases() {
        for bad in ["mailto:x@y", "ftp://h/x", "not a url"] {
            assert!(matches!(
                base_url(bad, "catalog URL"),
                Err(Error::InvalidInput(_))
            ));
        }
    }
}
