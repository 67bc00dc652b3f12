use std::path::PathBuf;

/// Errors of the embedded store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file of the store could not be read or written.
    #[error("io error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The index engine failed.
    #[error("index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The query cannot be run (e.g. a range over a field type that has no order).
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// Another process (a running server, an import) has the store open.
    #[error("store {0} is in use by another process")]
    Locked(PathBuf),
    /// One event is larger than a WAL record may be.
    #[error("event of {size} bytes exceeds the {limit} byte limit")]
    EventTooLarge {
        /// Its size as JSON.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The store is closed or its writer thread stopped.
    #[error("store closed")]
    Closed,
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }
}
