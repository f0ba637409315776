//! The lake's bucket on R2: puts for DoLake's flushes and catalog commits,
//! and the S3-compatible read path (`dolake::s3`) for local readers
//! (PyIceberg, DuckDB), served by the stateless Worker straight from R2.
//!
//! ```text
//!   GET|HEAD /lake/{name}/s3/<bucket>/<key>   Range: bytes=a-b | a- | -n
//!     s3::parse ──> bucket == LAKE_BUCKET? ──> R2 head (size, etag, uploaded)
//!     s3::resolve(range, size) ──> R2 get with the same range ──> 200 | 206 | 416
//! ```
//!
//! Invariants: nothing here writes on behalf of a reader (the route is
//! read-only by construction); a range is resolved against the object's
//! size before R2 is asked, so R2 only ever sees a span inside the object;
//! and a put either stores the whole object or fails (R2 puts are atomic).

use dolake::s3::{self, ObjectMeta, S3Error};
use worker::{Bucket, Env, Range, Request, Response};

/// The R2 binding of the lake's bucket in wrangler.toml.
pub const BUCKET_BINDING: &str = "LAKE_BUCKET";

/// The bucket name in table locations (`s3://lake/warehouse/...`), which
/// the S3 route answers to; R2's own bucket name does not leak into tables.
pub const LAKE_BUCKET: &str = "lake";

pub fn bucket(env: &Env) -> worker::Result<Bucket> {
    env.bucket(BUCKET_BINDING)
}

/// Puts one object whole.
pub async fn put(bucket: &Bucket, key: &str, bytes: Vec<u8>) -> worker::Result<()> {
    if !s3::valid_key(key) {
        return Err(worker::Error::RustError(format!(
            "invalid object key {key:?}"
        )));
    }
    bucket.put(key, bytes).execute().await?;
    Ok(())
}

fn s3_error(e: &S3Error) -> worker::Result<Response> {
    let mut r = Response::ok(e.xml())?.with_status(e.status);
    r.headers_mut().set("content-type", "application/xml")?;
    Ok(r)
}

/// Whether an S3 request carries `token` as its SigV4 access key id (or as
/// a bearer token).
pub fn s3_authorized(req: &Request, token: &str) -> worker::Result<bool> {
    let Some(value) = req.headers().get("Authorization")? else {
        return Ok(false);
    };
    Ok(match s3::access_key_id(&value) {
        Some(key) => dosql_service::transport::token_ok(key, token),
        None => dosql_service::transport::bearer_ok(Some(&value), token),
    })
}

/// `GET|HEAD {prefix}<bucket>/<key>`: `path` is what follows the prefix.
pub async fn serve(env: &Env, req: &Request, path: &str) -> worker::Result<Response> {
    let method = req.method().to_string();
    let range = req.headers().get("Range")?;
    let parsed = match s3::parse(&method, path, range.as_deref()) {
        Ok(p) => p,
        Err(e) => return s3_error(&e),
    };
    if parsed.bucket != LAKE_BUCKET {
        return s3_error(&S3Error {
            status: 404,
            code: "NoSuchBucket",
            message: "The specified bucket does not exist.".into(),
            resource: parsed.bucket,
        });
    }
    let bucket = bucket(env)?;
    let Some(head) = bucket.head(parsed.key.as_str()).await? else {
        return s3_error(&S3Error::no_such_key(&parsed.key));
    };
    let meta = ObjectMeta {
        size: head.size(),
        last_modified_ms: head.uploaded().as_millis() as i64,
        etag: head.etag(),
    };
    let span = match s3::resolve(parsed.range, meta.size, &parsed.key) {
        Ok(span) => span,
        Err(e) => return s3_error(&e),
    };
    let (status, headers) = s3::headers(&meta, span);
    let body = if parsed.head || meta.size == 0 {
        Vec::new()
    } else {
        let mut get = bucket.get(parsed.key.as_str());
        if let Some((first, last)) = span {
            get = get.range(Range::OffsetWithLength {
                offset: first,
                length: last - first + 1,
            });
        }
        let object = get.execute().await?;
        match object.as_ref().and_then(|o| o.body()) {
            // Read whole: lake objects are a few MiB at most.
            Some(body) => body.bytes().await?,
            // Deleted between the head and the get.
            None => return s3_error(&S3Error::no_such_key(&parsed.key)),
        }
    };
    let mut response = Response::from_bytes(body)?.with_status(status);
    for (name, value) in headers {
        response.headers_mut().set(name, &value)?;
    }
    Ok(response)
}
