//! Coinbase Advanced Trade (CDP keys): a fresh JWT per request, `ES256` for EC (P-256) keys and
//! `EdDSA` for Ed25519 keys, with the claims and header coinbase-advanced-py puts in it:
//! header `{"alg","kid","nonce","typ":"JWT"}` (sorted, as PyJWT writes it), claims
//! `{"sub","iss":"cdp","nbf","exp":nbf+120,"uri":"METHOD host/path"}` (no `uri` for the WebSocket JWT).
//! The nonce and the time come in as arguments; ECDSA nonces are RFC 6979.

use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::Signer as _;
use p256::ecdsa::signature::Signer as P256Signer;
use p256::pkcs8::DecodePrivateKey as _;

use super::binance::api_key;
use super::crypto::b64_decode;
use super::encode::{form, json_object, Param};
use super::{method, path, SignedRequest};
use crate::error::{CoreError, CoreResult};

enum Key {
    Es256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

pub struct CoinbaseSigner {
    key_name: String,
    key: Key,
    host: String,
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    super::encode::json_str(&mut out, s);
    out
}

impl CoinbaseSigner {
    /// `private_key`: a PEM EC key (SEC1 `BEGIN EC PRIVATE KEY` or PKCS#8), or a base64 Ed25519 key
    /// (32 or 64 bytes), as the CDP portal hands them out.
    pub fn new(key_name: &str, private_key: &str, host: &str) -> CoreResult<CoinbaseSigner> {
        let pk = private_key.trim();
        let key =
            if pk.starts_with("-----BEGIN") {
                let pem = pk.replace("\\n", "\n");
                if pem.contains("EC PRIVATE KEY") {
                    let sk = p256::SecretKey::from_sec1_pem(&pem)
                        .map_err(|_| CoreError::Credential("coinbase key is not a P-256 EC private key".into()))?;
                    Key::Es256(sk.into())
                } else if let Ok(sk) = p256::SecretKey::from_pkcs8_pem(&pem) {
                    Key::Es256(sk.into())
                } else {
                    Key::Ed25519(ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).map_err(|_| {
                        CoreError::Credential("coinbase key is neither P-256 nor Ed25519 PKCS#8".into())
                    })?)
                }
            } else {
                let compact: String = pk.split_whitespace().collect();
                let mut raw = b64_decode(&compact)
                    .ok_or_else(|| CoreError::Credential("coinbase key is neither PEM nor valid base64".into()))?;
                if raw.len() != 32 && raw.len() != 64 {
                    return Err(CoreError::Credential(format!(
                        "Ed25519 raw key must decode to 32 or 64 bytes, got {}",
                        raw.len()
                    )));
                }
                let mut seed = [0u8; 32];
                seed.copy_from_slice(&raw[..32]);
                zeroize::Zeroize::zeroize(&mut raw);
                let k = ed25519_dalek::SigningKey::from_bytes(&seed);
                zeroize::Zeroize::zeroize(&mut seed);
                Key::Ed25519(k)
            };
        Ok(CoinbaseSigner { key_name: api_key("coinbase", key_name)?, key, host: host.to_owned() })
    }

    pub fn algorithm(&self) -> &'static str {
        match self.key {
            Key::Es256(_) => "ES256",
            Key::Ed25519(_) => "EdDSA",
        }
    }

    /// A JWT for `uri` (`"GET api.coinbase.com/api/v3/brokerage/accounts"`), or for the WebSocket when `None`.
    pub fn jwt(&self, uri: Option<&str>, now_s: u64, nonce: &str) -> CoreResult<String> {
        if nonce.is_empty() || !nonce.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(CoreError::InvalidArgument("the JWT nonce must be non-empty and alphanumeric".into()));
        }
        let header = format!(
            r#"{{"alg":"{}","kid":{},"nonce":"{}","typ":"JWT"}}"#,
            self.algorithm(),
            json_string(&self.key_name),
            nonce
        );
        let mut claims = format!(
            r#"{{"sub":{},"iss":"cdp","nbf":{},"exp":{}"#,
            json_string(&self.key_name),
            now_s,
            now_s.saturating_add(120)
        );
        if let Some(u) = uri {
            claims.push_str(r#","uri":"#);
            claims.push_str(&json_string(u));
        }
        claims.push('}');
        let signing_input = format!("{}.{}", b64url(header.as_bytes()), b64url(claims.as_bytes()));
        let sig: Vec<u8> = match &self.key {
            Key::Es256(k) => {
                let s: p256::ecdsa::Signature = P256Signer::sign(k, signing_input.as_bytes());
                s.to_bytes().to_vec()
            }
            Key::Ed25519(k) => k.sign(signing_input.as_bytes()).to_bytes().to_vec(),
        };
        Ok(format!("{signing_input}.{}", b64url(&sig)))
    }

    /// A REST request with `Authorization: Bearer <jwt>`; GET/DELETE params in the query, others as JSON.
    pub fn sign(
        &self,
        http_method: &str,
        request_path: &str,
        params: &[(String, Param)],
        now_s: u64,
        nonce: &str,
    ) -> CoreResult<SignedRequest> {
        let m = method(http_method)?;
        let p = path(request_path)?.to_owned();
        let uri = format!("{m} {}{p}", self.host);
        let token = self.jwt(Some(&uri), now_s, nonce)?;
        let (query, body) = if m == "GET" || m == "DELETE" {
            (form(params), Vec::new())
        } else {
            (String::new(), json_object(params).into_bytes())
        };
        let mut headers = vec![("Authorization".to_owned(), format!("Bearer {token}"))];
        if !body.is_empty() {
            headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
        }
        Ok(SignedRequest { method: m, path: p, query, body, headers })
    }
}

impl std::fmt::Debug for CoinbaseSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CoinbaseSigner({}, ***)", self.algorithm())
    }
}
