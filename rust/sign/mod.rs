//! Request signing for every venue: one call builds the whole signed request (query or body bytes
//! plus headers) from typed parameters, so what is signed is exactly what is sent.
//!
//! Secrets live in [`Secret`] holders inside the signers: zeroed on drop, redacted in `Debug`, never
//! handed back. Time and nonces come in as arguments; nothing here reads a clock.

pub mod binance;
pub mod bybit;
pub mod coinbase;
pub mod crypto;
pub mod encode;
pub mod eth;
pub mod keystore;
pub mod kraken;
pub mod okx;
pub mod polymarket;
pub mod polymarket_tx;
pub mod secret;

pub use encode::Param;
pub use secret::Secret;

/// A request ready to send: `query` goes after `?` (may be empty), `body` is sent as is.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// Header names whose values are credentials: shown as `***` in every `Debug`/`repr`.
pub const SENSITIVE_HEADERS: &[&str] = &[
    "OK-ACCESS-PASSPHRASE",
    "APCA-API-SECRET-KEY",
    "POLY_PASSPHRASE",
    "POLY_API_KEY",
    "X-MBX-APIKEY",
    "X-BAPI-API-KEY",
    "OK-ACCESS-KEY",
    "API-Key",
    "APCA-API-KEY-ID",
];

impl std::fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                if SENSITIVE_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(k)) {
                    (k.as_str(), "***")
                } else {
                    (k.as_str(), v.as_str())
                }
            })
            .collect();
        f.debug_struct("SignedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("body", &String::from_utf8_lossy(&self.body))
            .field("headers", &headers)
            .finish()
    }
}

/// Upper-case an HTTP method and check it is one a venue API uses.
pub(crate) fn method(m: &str) -> crate::error::CoreResult<String> {
    let up = m.to_ascii_uppercase();
    match up.as_str() {
        "GET" | "POST" | "PUT" | "DELETE" | "PATCH" => Ok(up),
        _ => Err(crate::error::CoreError::InvalidArgument(format!(
            "unsupported HTTP method {:?}",
            crate::error::clip(m)
        ))),
    }
}

/// A request path must be absolute and carry no query (parameters go in `params`).
pub(crate) fn path(p: &str) -> crate::error::CoreResult<&str> {
    if !p.starts_with('/') || p.contains(['?', '#', ' ']) {
        return Err(crate::error::CoreError::InvalidArgument(format!(
            "request path must start with '/' and carry no query: {:?}",
            crate::error::clip(p)
        )));
    }
    Ok(p)
}
