//! The S3-compatible read path: just enough of the S3 REST API (GetObject
//! and HeadObject, path-style, with byte ranges) for PyIceberg (pyarrow's
//! S3 filesystem) and DuckDB (httpfs) to read the lake's bucket when it is
//! not on R2 (local use and tests). Sans-IO like the rest of the crate: the
//! host parses a request here, stats and reads the object itself, and
//! builds the answer from what is returned here.
//!
//! ```text
//!   GET|HEAD /s3/<bucket>/<key>   Range: bytes=a-b | a- | -n
//!     parse()            -> S3Request {bucket, key, head, range}   or S3Error
//!     host: stat(key)    -> ObjectMeta {size, last_modified_ms, etag} or NoSuchKey
//!     resolve(range,size)-> Some((first, last)) inclusive, None = whole, or 416
//!     host: read [first, last], answer with headers(meta, span)
//! ```
//!
//! Invariants: a parsed key is a relative path of non-empty segments,
//! none `.` or `..` and none holding `\` or NUL, so a host may join it to a
//! directory without escaping it. A resolved span always lies within the
//! object (`first <= last < size`). Nothing here writes: the route is
//! read-only by construction.
//!
//! Authentication: AWS SigV4 signatures cannot be checked without a shared
//! secret, so the token travels as the *access key id*: the host takes
//! [`access_key_id`] from the `Authorization` header's `Credential=` and
//! compares it with the bearer token (constant time, in dosql-service).

use std::fmt::Write as _;

/// A parsed GetObject or HeadObject request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Request {
    pub bucket: String,
    pub key: String,
    /// HEAD: headers only.
    pub head: bool,
    pub range: Option<ByteRange>,
}

/// One `Range: bytes=` form (multiple ranges are not supported: S3 itself
/// refuses them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=a-b`, both inclusive.
    FromTo(u64, u64),
    /// `bytes=a-`
    From(u64),
    /// `bytes=-n`: the last n bytes.
    Suffix(u64),
}

/// What the host knows of a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub size: u64,
    pub last_modified_ms: i64,
    /// Opaque; quoted in the `ETag` header.
    pub etag: String,
}

/// An S3 error answer: status plus the `<Error>` XML body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    pub status: u16,
    /// S3's error code (`NoSuchKey`, `InvalidRange`, ...).
    pub code: &'static str,
    pub message: String,
    pub resource: String,
}

impl S3Error {
    fn new(status: u16, code: &'static str, message: impl Into<String>, resource: &str) -> S3Error {
        S3Error {
            status,
            code,
            message: message.into(),
            resource: resource.to_owned(),
        }
    }

    /// The object does not exist (404 NoSuchKey).
    pub fn no_such_key(key: &str) -> S3Error {
        S3Error::new(404, "NoSuchKey", "The specified key does not exist.", key)
    }

    /// The request carries no valid credentials (403 AccessDenied, as S3
    /// answers a bad signature).
    pub fn access_denied(resource: &str) -> S3Error {
        S3Error::new(
            403,
            "AccessDenied",
            "Access Denied: the access key id must be the catalog token",
            resource,
        )
    }

    /// The storage failed (500 InternalError).
    pub fn internal(message: impl Into<String>, resource: &str) -> S3Error {
        S3Error::new(500, "InternalError", message, resource)
    }

    /// The `<Error>` document S3 clients parse.
    pub fn xml(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code>\
             <Message>{}</Message><Resource>{}</Resource></Error>",
            self.code,
            xml_escape(&self.message),
            xml_escape(&self.resource)
        )
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Decodes `%XX` escapes (and nothing else: `+` stays `+`, as in paths).
/// `None` for a malformed escape or bytes that are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Parses a request for `path`, the part after `/s3/` (still
/// percent-encoded, without the query string).
pub fn parse(method: &str, path: &str, range: Option<&str>) -> Result<S3Request, S3Error> {
    let head = match method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            return Err(S3Error::new(
                405,
                "MethodNotAllowed",
                "this bucket is read-only: only GET and HEAD of objects",
                path,
            ))
        }
    };
    let decoded = percent_decode(path)
        .ok_or_else(|| S3Error::new(400, "InvalidURI", "malformed percent-encoding", path))?;
    let (bucket, key) = decoded.split_once('/').unwrap_or((&decoded, ""));
    if bucket.is_empty() || key.is_empty() {
        // Bucket-level operations (ListObjects, ...) are not served.
        return Err(S3Error::new(
            501,
            "NotImplemented",
            "only GetObject and HeadObject are implemented",
            path,
        ));
    }
    if !valid_key(key) {
        return Err(S3Error::new(400, "InvalidArgument", "invalid object key", key));
    }
    let range = match range {
        None => None,
        Some(r) => Some(parse_range(r).ok_or_else(|| {
            S3Error::new(400, "InvalidArgument", format!("unsupported Range {r:?}"), key)
        })?),
    };
    Ok(S3Request {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        head,
        range,
    })
}

/// Whether `key` is a relative path a host can safely join to a directory.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != ".." && !seg.contains(['\\', '\0']))
}

fn parse_range(header: &str) -> Option<ByteRange> {
    let spec = header.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let num = |s: &str| s.trim().parse::<u64>().ok();
    match (a.trim().is_empty(), b.trim().is_empty()) {
        (true, false) => Some(ByteRange::Suffix(num(b)?)),
        (false, true) => Some(ByteRange::From(num(a)?)),
        (false, false) => {
            let (a, b) = (num(a)?, num(b)?);
            (a <= b).then_some(ByteRange::FromTo(a, b))
        }
        (true, true) => None,
    }
}

/// The inclusive span of an object of `size` bytes that `range` selects:
/// `None` for the whole object, 416 InvalidRange when nothing of it can be
/// served (the last byte is clamped to the object's end, as HTTP says).
pub fn resolve(range: Option<ByteRange>, size: u64, key: &str) -> Result<Option<(u64, u64)>, S3Error> {
    let Some(range) = range else {
        return Ok(None);
    };
    let unsatisfiable = || {
        S3Error::new(
            416,
            "InvalidRange",
            format!("The requested range is not satisfiable (object size {size})"),
            key,
        )
    };
    let span = match range {
        ByteRange::FromTo(a, b) if a < size => (a, b.min(size - 1)),
        ByteRange::From(a) if a < size => (a, size - 1),
        ByteRange::Suffix(n) if n > 0 && size > 0 => (size - n.min(size), size - 1),
        _ => return Err(unsatisfiable()),
    };
    Ok(Some(span))
}

/// Status and headers of a successful answer for `span` (from
/// [`resolve`]) of the object `meta`; `Content-Length` is the span's.
pub fn headers(meta: &ObjectMeta, span: Option<(u64, u64)>) -> (u16, Vec<(&'static str, String)>) {
    let mut h = vec![
        ("Accept-Ranges", "bytes".to_owned()),
        ("ETag", format!("\"{}\"", meta.etag)),
        ("Last-Modified", http_date(meta.last_modified_ms)),
        ("Content-Type", "application/octet-stream".to_owned()),
    ];
    match span {
        None => {
            h.push(("Content-Length", meta.size.to_string()));
            (200, h)
        }
        Some((first, last)) => {
            h.push(("Content-Length", (last - first + 1).to_string()));
            h.push(("Content-Range", format!("bytes {first}-{last}/{}", meta.size)));
            (206, h)
        }
    }
}

/// The access key id of a SigV4 `Authorization` header
/// (`AWS4-HMAC-SHA256 Credential=KEY/date/region/s3/aws4_request, ...`).
pub fn access_key_id(authorization: &str) -> Option<&str> {
    let rest = authorization.trim().strip_prefix("AWS4-HMAC-SHA256")?;
    let credential = rest
        .split(',')
        .find_map(|part| part.trim().strip_prefix("Credential="))?;
    credential.split('/').next().filter(|k| !k.is_empty())
}

/// RFC 7231 IMF-fixdate of a Unix time in milliseconds.
pub fn http_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let (days, day_secs) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil-from-days, for the proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = String::with_capacity(29);
    let _ = write!(
        out,
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day_secs / 3600,
        day_secs % 3600 / 60,
        day_secs % 60
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_resolve() {
        let r = |h: &str| parse("GET", "b/k", Some(h)).map(|r| r.range.unwrap());
        assert_eq!(r("bytes=0-9").unwrap(), ByteRange::FromTo(0, 9));
        assert_eq!(r("bytes=5-").unwrap(), ByteRange::From(5));
        assert_eq!(r("bytes=-3").unwrap(), ByteRange::Suffix(3));
        for bad in ["bytes=9-1", "bytes=0-1,4-5", "items=0-1", "bytes=-", "bytes=a-"] {
            assert_eq!(r(bad).unwrap_err().status, 400, "{bad}");
        }
        let res = |range, size| resolve(Some(range), size, "k").map_err(|e| e.status);
        assert_eq!(res(ByteRange::FromTo(2, 100), 10), Ok(Some((2, 9))));
        assert_eq!(res(ByteRange::From(9), 10), Ok(Some((9, 9))));
        assert_eq!(res(ByteRange::Suffix(4), 10), Ok(Some((6, 9))));
        assert_eq!(res(ByteRange::Suffix(40), 10), Ok(Some((0, 9))));
        assert_eq!(res(ByteRange::From(10), 10), Err(416));
        assert_eq!(res(ByteRange::FromTo(10, 12), 10), Err(416));
        assert_eq!(res(ByteRange::Suffix(0), 10), Err(416));
        assert_eq!(res(ByteRange::Suffix(1), 0), Err(416));
        assert_eq!(resolve(None, 0, "k"), Ok(None));
    }

    #[test]
    fn keys_never_escape_the_bucket() {
        let req = parse("HEAD", "lake/a/b%20c.parquet", None).unwrap();
        assert_eq!((req.bucket.as_str(), req.key.as_str(), req.head), ("lake", "a/b c.parquet", true));
        for bad in ["lake/../x", "lake/a//b", "lake/%2E%2E/x", "lake/a\\b", "lake/./a"] {
            assert_eq!(parse("GET", bad, None).unwrap_err().status, 400, "{bad}");
        }
        assert_eq!(parse("GET", "lake", None).unwrap_err().status, 501);
        assert_eq!(parse("PUT", "lake/k", None).unwrap_err().status, 405);
        assert_eq!(parse("GET", "lake/%zz", None).unwrap_err().status, 400);
    }

    #[test]
    fn headers_and_errors() {
        let meta = ObjectMeta {
            size: 10,
            last_modified_ms: 784_111_777_000,
            etag: "e1".into(),
        };
        let (status, h) = headers(&meta, Some((2, 5)));
        assert_eq!(status, 206);
        let get = |n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("Content-Range"), Some("bytes 2-5/10"));
        assert_eq!(get("Content-Length"), Some("4"));
        assert_eq!(get("ETag"), Some("\"e1\""));
        assert_eq!(get("Last-Modified"), Some("Sun, 06 Nov 1994 08:49:37 GMT"));
        assert_eq!(headers(&meta, None).0, 200);
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(951_782_400_000), "Tue, 29 Feb 2000 00:00:00 GMT");
        let xml = S3Error::no_such_key("a<b").xml();
        assert!(xml.contains("<Code>NoSuchKey</Code>") && xml.contains("a&lt;b"), "{xml}");
    }

    #[test]
    fn the_access_key_id_is_taken_from_the_credential() {
        let h = "AWS4-HMAC-SHA256 Credential=tok/20260101/us-east-1/s3/aws4_request, \
                 SignedHeaders=host, Signature=ab";
        assert_eq!(access_key_id(h), Some("tok"));
        assert_eq!(access_key_id("Bearer tok"), None);
        assert_eq!(access_key_id("AWS4-HMAC-SHA256 Credential=/x"), None);
    }
}
