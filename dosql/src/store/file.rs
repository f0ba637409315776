//! File-backed stores (native only).
//!
//! ```text
//!   <path>            data file: header slot, then page `id` at id * page_size
//!   <path>-journal    redo journal of the batch being written (empty at rest)
//!   <path>-meta       the meta blob of the last committed batch
//!
//!   <dir>/00000000000000000001.wal   log segments, each named by the LSN
//!   <dir>/00000000000000004711.wal   of its first record
//! ```
//!
//! [`FilePageStore`] makes every batch atomic and durable through the redo
//! journal; [`FileLogStore`] appends framed records ([`super::frame`]) to
//! segment files and drops a torn tail at open. Both use positioned I/O
//! (`pread`/`pwrite`), so reads need no seek and share no cursor.
//!
//! Once a write fails part-way, a store no longer knows what its files hold:
//! it refuses every later write with [`Error::Io`](crate::error::Error::Io)
//! until it is reopened, which recovers. The byte formats are in
//! `docs/format.md` §1.

mod log;
mod page;
mod reader;

pub use log::{FileLogOptions, FileLogStore, DEFAULT_SEGMENT_SIZE};
pub use page::FilePageStore;

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Makes the creation, rename or removal of entries in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// The error returned by every write once a store has stopped trusting its
/// files.
fn poisoned_error(what: &Path) -> Error {
    Error::Io(std::io::Error::other(format!(
        "{}: an earlier write failed; reopen the store to recover",
        what.display()
    )))
}
