//! Bybit v5: hex HMAC-SHA256 of `timestamp + apiKey + recvWindow + payload`, where the payload is
//! the query string (GET, sorted by name as pybit does) or the JSON body (POST).

use super::binance::api_key;
use super::crypto::{hex_lower, hmac_sha256};
use super::encode::{form, json_object, Param};
use super::{method, path, Secret, SignedRequest};
use crate::error::CoreResult;

pub struct BybitSigner {
    api_key: String,
    secret: Secret,
}

impl BybitSigner {
    pub fn new(key: &str, secret: &str) -> CoreResult<BybitSigner> {
        Ok(BybitSigner { api_key: api_key("bybit", key)?, secret: Secret::new("bybit api secret", secret.into())? })
    }

    /// Hex HMAC-SHA256 of `timestamp + apiKey + recvWindow + payload`.
    pub fn signature(&self, timestamp_ms: u64, recv_window_ms: u64, payload: &[u8]) -> String {
        let prefix = format!("{timestamp_ms}{}{recv_window_ms}", self.api_key);
        hex_lower(&hmac_sha256(self.secret.expose(), &[prefix.as_bytes(), payload]))
    }

    /// The private WebSocket's `auth` arguments: (apiKey, expires, hex HMAC-SHA256 of
    /// `"GET/realtime" + expires`), as pybit signs them.
    pub fn ws_auth(&self, expires_ms: u64) -> (String, u64, String) {
        let payload = format!("GET/realtime{expires_ms}");
        (self.api_key.clone(), expires_ms, hex_lower(&hmac_sha256(self.secret.expose(), &[payload.as_bytes()])))
    }

    pub fn sign(
        &self,
        http_method: &str,
        request_path: &str,
        params: &[(String, Param)],
        timestamp_ms: u64,
        recv_window_ms: u64,
    ) -> CoreResult<SignedRequest> {
        let m = method(http_method)?;
        let (query, body) = if m == "GET" {
            let mut sorted = params.to_vec();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            (form(&sorted), Vec::new())
        } else {
            (String::new(), json_object(params).into_bytes())
        };
        let payload = if m == "GET" { query.as_bytes() } else { &body };
        let sig = self.signature(timestamp_ms, recv_window_ms, payload);
        let mut headers = vec![
            ("X-BAPI-API-KEY".to_owned(), self.api_key.clone()),
            ("X-BAPI-SIGN".to_owned(), sig),
            ("X-BAPI-SIGN-TYPE".to_owned(), "2".to_owned()),
            ("X-BAPI-TIMESTAMP".to_owned(), timestamp_ms.to_string()),
            ("X-BAPI-RECV-WINDOW".to_owned(), recv_window_ms.to_string()),
        ];
        if m != "GET" {
            headers.insert(0, ("Content-Type".to_owned(), "application/json".to_owned()));
        }
        Ok(SignedRequest { method: m, path: path(request_path)?.to_owned(), query, body, headers })
    }
}

impl std::fmt::Debug for BybitSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BybitSigner(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_and_post() {
        let s = BybitSigner::new("XXXXXXXXXX", "secret").unwrap();
        let params = vec![
            ("symbol".to_owned(), Param::Str("BTCUSDT".into())),
            ("category".to_owned(), Param::Str("linear".into())),
        ];
        let g = s.sign("GET", "/v5/order/realtime", &params, 1658384314791, 5000).unwrap();
        assert_eq!(g.query, "category=linear&symbol=BTCUSDT");
        let want = hex_lower(&hmac_sha256(b"secret", &[b"1658384314791XXXXXXXXXX5000category=linear&symbol=BTCUSDT"]));
        assert_eq!(g.headers[1].1, want);
        let p = s.sign("POST", "/v5/order/create", &params, 1658384314791, 5000).unwrap();
        assert_eq!(p.body, br#"{"symbol":"BTCUSDT","category":"linear"}"#);
        assert_eq!(p.headers[0], ("Content-Type".to_owned(), "application/json".to_owned()));
        assert_eq!(p.headers[2].1, s.signature(1658384314791, 5000, &p.body));
    }
}
