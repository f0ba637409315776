//! The lake's bucket on local files: key `a/b` is file `BUCKET_DIR/a/b`.
//!
//! ```text
//!   writers: catalog commits (metadata), lake flushes (Parquet, manifests, metadata)
//!       put(key) = write KEY.tmp-put ── fsync ── rename to KEY ── fsync the directory
//!   readers: the S3 route (GET/HEAD, ranges), dolake::reader over ObjectStore
//! ```
//!
//! Invariants:
//! * A put is atomic and durable before it returns: readers see the whole
//!   object or none of it, and a catalog entry committed after the put
//!   never points at an object a crash could lose. (`dolake::store::DirStore`
//!   renames but does not fsync, which is why the server has its own put.)
//! * Keys are checked by `dolake::store::check_key` before any path is
//!   built, so no key escapes the directory.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use dolake::s3::{self, ObjectMeta, S3Error};
use dolake::store::{check_key, DirStore, ObjectStore};

/// The bucket name in table locations (`s3://lake/warehouse/...`).
pub const BUCKET: &str = "lake";

/// The bucket's directory.
#[derive(Clone)]
pub struct Bucket {
    dir: PathBuf,
}

impl Bucket {
    /// The bucket in `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<Bucket, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Bucket {
            dir: dir.to_path_buf(),
        })
    }

    /// Writes an object whole or not at all, durably.
    pub fn put_object(&self, key: &str, bytes: &[u8]) -> Result<(), String> {
        check_key(key).map_err(|e| format!("invalid object key {key:?}: {e}"))?;
        let path = self.dir.join(key);
        let write = || -> std::io::Result<()> {
            let dir = path
                .parent()
                .expect("a key joined to a directory has a parent");
            std::fs::create_dir_all(dir)?;
            let mut tmp = path.clone().into_os_string();
            tmp.push(".tmp-put");
            let mut file = File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            // The rename is durable only once the directory is.
            File::open(dir)?.sync_all()
        };
        write().map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// One S3 read request (`GET|HEAD /<bucket>/<key>`, optional range).
    pub fn serve(
        &self,
        method: &str,
        path: &str,
        range: Option<&str>,
    ) -> Result<Response, S3Error> {
        let req = s3::parse(method, path, range)?;
        if req.bucket != BUCKET {
            return Err(S3Error {
                status: 404,
                code: "NoSuchBucket",
                message: "The specified bucket does not exist.".into(),
                resource: req.bucket,
            });
        }
        let file_path = self.dir.join(&req.key);
        let io = |e: std::io::Error| S3Error::internal(e.to_string(), &req.key);
        let mut file = match File::open(&file_path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(S3Error::no_such_key(&req.key))
            }
            Err(e) => return Err(io(e)),
        };
        let stat = file.metadata().map_err(io)?;
        if !stat.is_file() {
            return Err(S3Error::no_such_key(&req.key));
        }
        let modified = stat
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .unwrap_or_default();
        let meta = ObjectMeta {
            size: stat.len(),
            last_modified_ms: modified.as_millis() as i64,
            etag: format!("{:x}-{:x}", stat.len(), modified.as_nanos()),
        };
        let span = s3::resolve(req.range, meta.size, &req.key)?;
        let (status, headers) = s3::headers(&meta, span);
        let body = if req.head {
            Body::empty()
        } else {
            let (first, last) = span.unwrap_or((0, meta.size.saturating_sub(1)));
            let len = if meta.size == 0 { 0 } else { last - first + 1 };
            let mut buf = vec![0u8; len as usize];
            file.seek(SeekFrom::Start(first)).map_err(io)?;
            file.read_exact(&mut buf).map_err(io)?;
            Body::from(buf)
        };
        let mut response = Response::new(body);
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        for (name, value) in headers {
            if let Ok(v) = value.parse() {
                response.headers_mut().insert(name, v);
            }
        }
        Ok(response)
    }

    /// The plain file view, for reads.
    fn files(&self) -> DirStore {
        DirStore::new(&self.dir)
    }
}

/// The lake flushes into the bucket through this; reads go to the files.
impl ObjectStore for Bucket {
    fn put(&self, key: &str, bytes: &[u8]) -> dolake::error::Result<()> {
        self.put_object(key, bytes)
            .map_err(dolake::error::Error::Io)
    }
    fn get(&self, key: &str) -> dolake::error::Result<Vec<u8>> {
        self.files().get(key)
    }
    fn get_range(&self, key: &str, start: u64, len: u64) -> dolake::error::Result<Vec<u8>> {
        self.files().get_range(key, start, len)
    }
    fn head(&self, key: &str) -> dolake::error::Result<Option<u64>> {
        self.files().head(key)
    }
    fn list(&self, prefix: &str) -> dolake::error::Result<Vec<String>> {
        self.files().list(prefix)
    }
    fn delete(&self, key: &str) -> dolake::error::Result<()> {
        self.files().delete(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puts_are_whole_and_keys_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = Bucket::open(&dir.path().join("b")).unwrap();
        bucket.put("w/t/data/a.parquet", b"abc").unwrap();
        bucket.put("w/t/data/a.parquet", b"abcd").unwrap();
        assert_eq!(bucket.get("w/t/data/a.parquet").unwrap(), b"abcd");
        assert_eq!(bucket.list("w/").unwrap(), vec!["w/t/data/a.parquet"]);
        assert!(bucket.put("../escape", b"x").is_err());
        assert!(bucket.put("a//b", b"x").is_err());
        assert!(!dir.path().join("escape").exists());
    }

    #[test]
    fn serves_ranges_and_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = Bucket::open(dir.path()).unwrap();
        bucket.put_object("k/v.bin", b"0123456789").unwrap();
        let r = bucket
            .serve("GET", "lake/k/v.bin", Some("bytes=2-4"))
            .unwrap();
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        let missing = bucket.serve("GET", "lake/k/none", None).unwrap_err();
        assert_eq!(missing.status, 404);
        let other = bucket.serve("GET", "other/k/v.bin", None).unwrap_err();
        assert_eq!(other.code, "NoSuchBucket");
    }
}
