//! The core's error enum. `py/errors.rs` maps each variant to one Python exception class, once.

use thiserror::Error;

/// Everything that can go wrong in the core. Messages say what was wrong and never carry secrets.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CoreError {
    /// A decimal string could not be parsed (empty, not a number, too many digits).
    #[error("invalid decimal {input:?}: {reason}")]
    InvalidDecimal { input: String, reason: &'static str },
    /// A value is not an exact multiple of the step it must be expressed in.
    #[error("{what} {value} is not a multiple of {step}")]
    NotOnStep { what: &'static str, value: String, step: String },
    /// An instrument spec or limit set is inconsistent.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    /// A caller passed an argument outside its domain.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Arithmetic left the representable range.
    #[error("overflow: {0}")]
    Overflow(&'static str),
    /// A venue message that is not what the venue's protocol says it should be.
    #[error("malformed {venue} message: {detail}")]
    Parse { venue: &'static str, detail: String },
    /// An update does not follow the previous one; the book is now invalid and needs a resync.
    #[error("sequence gap: expected update {expected}, got {got}; book marked invalid")]
    SequenceGap { expected: u64, got: u64 },
    /// The book is resyncing or invalid and cannot take incremental updates.
    #[error("book not ready: {0}")]
    BookNotReady(&'static str),
    /// No instrument with this id or name is registered.
    #[error("unknown instrument {0}")]
    UnknownInstrument(String),
    /// No order with this key is tracked.
    #[error("unknown order key {0}")]
    UnknownOrder(u64),
    /// A named quota, venue or strategy is not registered.
    #[error("unknown {kind} {name}")]
    UnknownName { kind: &'static str, name: String },
    /// A key, secret or passphrase is missing or malformed. The message never carries secret material.
    #[error("credential error: {0}")]
    Credential(String),
    /// A latched kill switch cannot be cleared by a state change; it needs `reset_kill`.
    #[error("kill switch latched for {0}; trading can be re-enabled only with reset_kill")]
    KillLatched(String),
}

pub type CoreResult<T> = Result<T, CoreError>;

/// Shorten caller input before it goes into an error message.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 48;
    if s.len() <= MAX {
        s.to_owned()
    } else {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}
