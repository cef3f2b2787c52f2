//! The one holder of secret bytes.

use zeroize::Zeroize;

use crate::error::{CoreError, CoreResult};

/// Secret key material: zeroed on drop, redacted in `Debug`, readable only inside the crate.
pub struct Secret(Vec<u8>);

impl Secret {
    /// Take ownership of secret bytes; an empty secret is an error that names `what`.
    pub fn new(what: &'static str, bytes: Vec<u8>) -> CoreResult<Secret> {
        if bytes.is_empty() {
            return Err(CoreError::Credential(format!("{what} is empty")));
        }
        Ok(Secret(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_and_non_empty() {
        let s = Secret::new("api secret", b"hunter2".to_vec()).unwrap();
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), b"hunter2");
        let e = Secret::new("api secret", vec![]).unwrap_err();
        assert_eq!(e.to_string(), "credential error: api secret is empty");
    }
}
