/// Everything the account store can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong user name or password (deliberately the same for both).
    #[error("invalid user name or password")]
    InvalidCredentials,
    /// Too many failed sign-ins: the account is locked until the given unix second.
    #[error("account locked after repeated failed sign-ins, retry later")]
    Locked {
        /// Unix second the lock ends.
        until: i64,
    },
    /// Too many failed sign-ins from this source address: refused until the given unix
    /// second, whatever the account.
    #[error("too many failed sign-ins from this address, retry later")]
    SourceBlocked {
        /// Unix second the block ends.
        until: i64,
    },
    /// The account is disabled.
    #[error("account disabled")]
    Disabled,
    /// No such user.
    #[error("no user `{0}`")]
    NoSuchUser(String),
    /// The user signs in only through the OpenID Provider: setting a local password needs
    /// an admin's explicit override ([`crate::AuthStore::set_local_password`]).
    #[error(
        "user `{0}` signs in only through the OpenID Provider: a local password would be a second way in that the provider does not govern; it needs an explicit override"
    )]
    ProviderOnly(String),
    /// The user already exists.
    #[error("user `{0}` already exists")]
    UserExists(String),
    /// A name, password, role, status or comment that is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// No such API token (or it belongs to someone else).
    #[error("no token `{0}`")]
    NoSuchToken(String),
    /// The operating system gave no randomness.
    #[error("no randomness available: {0}")]
    Random(String),
    /// The database failed.
    #[error("account database: {0}")]
    Storage(String),
}

impl From<redb::Error> for AuthError {
    fn from(err: redb::Error) -> Self {
        AuthError::Storage(err.to_string())
    }
}

macro_rules! storage_from {
    ($($ty:ty),*) => {$(
        impl From<$ty> for AuthError {
            fn from(err: $ty) -> Self {
                AuthError::Storage(err.to_string())
            }
        }
    )*};
}

storage_from!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    serde_json::Error
);
