//! Storage errors: the outcomes a caller must tell apart, and failures of the backend.

use crate::KeyValue;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A create found the key already there.
    #[error("key {0:?} already exists")]
    AlreadyExists(String),
    /// An update or delete found no such key.
    #[error("key {0:?} not found")]
    NotFound(String),
    /// A compare-and-swap lost: the key was written since the caller read it.
    /// Carries the value that is current now.
    #[error("key {key:?} was modified: expected revision {expected}, found {}", current.mod_revision)]
    Conflict { key: String, expected: i64, current: Box<KeyValue> },
    /// The revision asked for was compacted away. Carries the oldest revision still held.
    #[error("required revision {requested} has been compacted (oldest held is {compacted})")]
    Compacted { requested: i64, compacted: i64 },
    /// The revision asked for is newer than anything written.
    #[error("required revision {requested} is a future revision (current is {current})")]
    FutureRevision { requested: i64, current: i64 },
    /// The backend failed (I/O, corruption, a closed writer).
    #[error("storage backend: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Backend(e.to_string())
    }
}
