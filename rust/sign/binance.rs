//! Binance (spot, USD-M futures, margin): HMAC-SHA256 hex over the exact query string sent.
//!
//! Keys: HMAC secrets (hex signature) or Ed25519 private keys (base64 signature, URL-encoded in the
//! query; the venue recommends them and its WebSocket API logon needs them).
//!
//! Parameters are sent sorted by name (python-binance does the same; the WebSocket API requires it),
//! then `signature` last. Everything goes in the query string, which Binance accepts for every
//! method, so the body is empty and nothing is serialized twice.

use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::Signer as _;

use super::crypto::{b64, hex_lower, hmac_sha256};
use super::encode::{form, form_escape, Param};
use super::{method, path, Secret, SignedRequest};
use crate::error::{CoreError, CoreResult};

enum Key {
    Hmac(Secret),
    Ed25519(ed25519_dalek::SigningKey),
}

pub struct BinanceSigner {
    api_key: String,
    key: Key,
}

pub(crate) fn api_key(venue: &str, key: &str) -> CoreResult<String> {
    if key.is_empty() {
        return Err(CoreError::Credential(format!("{venue} api key is empty")));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CoreError::Credential(format!("{venue} api key has characters a header cannot carry")));
    }
    Ok(key.to_owned())
}

impl BinanceSigner {
    pub fn new(key: &str, secret: &str) -> CoreResult<BinanceSigner> {
        Ok(BinanceSigner {
            api_key: api_key("binance", key)?,
            key: Key::Hmac(Secret::new("binance api secret", secret.into())?),
        })
    }

    /// An Ed25519 key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as Binance's key generator writes it.
    pub fn new_ed25519(key: &str, private_key_pem: &str) -> CoreResult<BinanceSigner> {
        let k = ed25519_dalek::SigningKey::from_pkcs8_pem(private_key_pem.trim())
            .map_err(|_| CoreError::Credential("binance private key is not an Ed25519 PKCS#8 PEM key".into()))?;
        Ok(BinanceSigner { api_key: api_key("binance", key)?, key: Key::Ed25519(k) })
    }

    /// The signature of an exact payload: hex HMAC-SHA256, or base64 Ed25519 (not URL-encoded).
    pub fn signature(&self, payload: &[u8]) -> String {
        match &self.key {
            Key::Hmac(secret) => hex_lower(&hmac_sha256(secret.expose(), &[payload])),
            Key::Ed25519(k) => b64(&k.sign(payload).to_bytes()),
        }
    }

    /// A SIGNED REST request: params plus `recvWindow` and `timestamp`, sorted, then `signature`.
    pub fn sign(
        &self,
        http_method: &str,
        request_path: &str,
        mut all: Vec<(String, Param)>,
        timestamp_ms: u64,
        recv_window_ms: Option<u64>,
    ) -> CoreResult<SignedRequest> {
        if all.iter().any(|(k, _)| k == "timestamp" || k == "signature" || k == "recvWindow") {
            return Err(CoreError::InvalidArgument("timestamp, recvWindow and signature are set by the signer".into()));
        }
        if let Some(w) = recv_window_ms {
            all.push(("recvWindow".into(), Param::Int(i64::try_from(w).unwrap_or(i64::MAX))));
        }
        all.push(("timestamp".into(), Param::Int(i64::try_from(timestamp_ms).unwrap_or(i64::MAX))));
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut query = form(&all);
        let sig = self.signature(query.as_bytes());
        query.push_str("&signature=");
        form_escape(&mut query, &sig);
        Ok(SignedRequest {
            method: method(http_method)?,
            path: path(request_path)?.to_owned(),
            query,
            body: Vec::new(),
            headers: vec![("X-MBX-APIKEY".into(), self.api_key.clone())],
        })
    }
}

impl BinanceSigner {
    /// The signed `params` object of a WebSocket API request (`order.place`, `session.logon`, ...):
    /// `apiKey`, `timestamp` (and `recvWindow`) added, all sorted by name, signed over their
    /// form encoding, `signature` last. Returned as the exact JSON object text to embed in the request.
    pub fn ws_params(
        &self,
        mut all: Vec<(String, Param)>,
        timestamp_ms: u64,
        recv_window_ms: Option<u64>,
    ) -> CoreResult<String> {
        if all.iter().any(|(k, _)| matches!(k.as_str(), "apiKey" | "timestamp" | "signature" | "recvWindow")) {
            return Err(CoreError::InvalidArgument(
                "apiKey, timestamp, recvWindow and signature are set by the signer".into(),
            ));
        }
        all.push(("apiKey".into(), Param::Str(self.api_key.clone())));
        all.push(("timestamp".into(), Param::Int(i64::try_from(timestamp_ms).unwrap_or(i64::MAX))));
        if let Some(w) = recv_window_ms {
            all.push(("recvWindow".into(), Param::Int(i64::try_from(w).unwrap_or(i64::MAX))));
        }
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let sig = self.signature(form(&all).as_bytes());
        all.push(("signature".into(), Param::Str(sig)));
        Ok(super::encode::json_object(&all))
    }
}

impl std::fmt::Debug for BinanceSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BinanceSigner(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_vectors() {
        let v: serde_json::Value = serde_json::from_str(include_str!("../../tests/vectors/signing.json")).unwrap();
        for case in v["binance"].as_array().unwrap() {
            let s = BinanceSigner::new("key", case["secret"].as_str().unwrap()).unwrap();
            assert_eq!(s.signature(case["payload"].as_str().unwrap().as_bytes()), case["signature"].as_str().unwrap());
        }
    }

    #[test]
    fn documented_ws_api_vector() {
        let s = BinanceSigner::new(
            "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
            "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
        )
        .unwrap();
        let p = |k: &str, v: &str| (k.to_owned(), Param::Str(v.into()));
        let params = vec![
            p("symbol", "BTCUSDT"),
            p("side", "SELL"),
            p("type", "LIMIT"),
            p("timeInForce", "GTC"),
            p("quantity", "0.01000000"),
            p("price", "52000.00"),
        ];
        let json = s.ws_params(params, 1645423376532, Some(100)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["signature"], "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24");
        assert!(json.starts_with(r#"{"apiKey":"vmPUZE"#));
        assert!(json.ends_with(
            r#""type":"LIMIT","signature":"aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"}"#
        ));
    }

    #[test]
    fn builds_a_sorted_signed_query() {
        let s = BinanceSigner::new("k", "secret").unwrap();
        let params = vec![
            ("symbol".to_owned(), Param::Str("BTCUSDT".into())),
            ("side".to_owned(), Param::Str("BUY".into())),
            ("quantity".to_owned(), Param::Str("0.01".into())),
        ];
        let r = s.sign("post", "/api/v3/order", params.clone(), 1_700_000_000_000, Some(5000)).unwrap();
        let unsigned = "quantity=0.01&recvWindow=5000&side=BUY&symbol=BTCUSDT&timestamp=1700000000000";
        assert_eq!(r.query, format!("{unsigned}&signature={}", s.signature(unsigned.as_bytes())));
        assert_eq!(r.method, "POST");
        assert!(r.body.is_empty());
        assert_eq!(r.headers, vec![("X-MBX-APIKEY".to_owned(), "k".to_owned())]);
        assert!(s.sign("GET", "api/v3/order", params.clone(), 1, None).is_err());
        assert!(s.sign("FETCH", "/api/v3/order", params, 1, None).is_err());
        let dup = vec![("timestamp".to_owned(), Param::Int(1))];
        assert!(s.sign("GET", "/x", dup, 1, None).is_err());
        assert!(BinanceSigner::new("", "x").is_err());
        assert!(BinanceSigner::new("k y", "x").is_err());
        assert!(BinanceSigner::new("k", "").is_err());
        assert_eq!(format!("{s:?}"), "BinanceSigner(***)");
    }
}
