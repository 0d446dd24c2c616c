#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is busy; the caller may retry.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// A unique key is taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// A value the store cannot hold or compare (PostgreSQL text cannot contain U+0000): the
    /// caller's input, not the store, is at fault.
    #[error("the store cannot hold this value: {0}")]
    Unstorable(String),
    /// Data in the store that the code cannot read back (a bug or a foreign writer).
    #[error("the store holds unreadable data: {0}")]
    Corrupt(String),
    #[error("store failure: {0}")]
    Backend(String),
}
