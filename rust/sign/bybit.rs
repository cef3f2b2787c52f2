//! Bybit v5: hex HMAC-SHA256 of `timestamp + apiKey + recvWindow + payload`. The request is pybit's on
//! every input (pybit 5.x, `_V5HTTPManager`):
//! - GET: the payload is `k=v&...` sorted by name, unencoded (`str(v)`: a bool is `True`/`False`); the
//!   query sent is that payload as `requests` puts it on the wire: what a URL cannot carry is
//!   percent-encoded (UTF-8, upper-case hex), `!$&'()*+,/:;=?@~` stay. Where pybit's own wire form cannot
//!   be verified against what it signed (a value holding a valid `%XX` escape, which `requests` keeps or
//!   decodes, or `#`, which starts the URL's fragment and is never sent), `%` and `#` are encoded too,
//!   so the venue's percent-decoding gives back exactly the signed payload.
//! - POST: the body and payload are `json.dumps(params)` (`", "` and `": "` separators, non-ASCII and
//!   DEL as `\uXXXX`); an empty POST is `{}`. pybit's casts apply: `qty`, `price`, `triggerPrice`,
//!   `takeProfit`, `stopLoss` are sent as strings, `positionIdx` as an integer.

use std::fmt::Write;

use super::binance::api_key;
use super::crypto::{hex_lower, hmac_sha256};
use super::encode::Param;
use super::{method, path, Secret, SignedRequest};
use crate::error::CoreResult;

const STRING_PARAMS: [&str; 5] = ["qty", "price", "triggerPrice", "takeProfit", "stopLoss"];

/// `str(v)` as pybit formats a GET value.
fn py_text(v: &Param) -> String {
    match v {
        Param::Str(s) => s.clone(),
        Param::Int(i) => i.to_string(),
        Param::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
    }
}

/// pybit's unencoded GET payload: `k=v&...`, sorted by name.
fn get_payload(params: &[(String, Param)]) -> String {
    let mut sorted: Vec<&(String, Param)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::with_capacity(params.len() * 24);
    for (i, (k, v)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(&py_text(v));
    }
    out
}

/// The payload as a query on the wire (see the module docs).
fn wire_query(payload: &str) -> String {
    let mut out = String::with_capacity(payload.len() + 16);
    for b in payload.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => {
                out.push(b as char)
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// A JSON string as Python's `json.dumps` writes it (`ensure_ascii`).
fn py_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// pybit's POST body: `json.dumps(params)` after its casts; `{}` when empty.
fn post_body(params: &[(String, Param)]) -> String {
    let mut out = String::with_capacity(params.len() * 26 + 2);
    out.push('{');
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        py_json_str(&mut out, k);
        out.push_str(": ");
        let as_string = STRING_PARAMS.contains(&k.as_str());
        match v {
            Param::Str(s) if k == "positionIdx" && s.trim().parse::<i64>().is_ok() => {
                let _ = write!(out, "{}", s.trim().parse::<i64>().unwrap_or_default());
            }
            Param::Str(s) => py_json_str(&mut out, s),
            Param::Int(_) | Param::Bool(_) if as_string => py_json_str(&mut out, &py_text(v)),
            Param::Bool(b) if k == "positionIdx" => out.push(if *b { '1' } else { '0' }),
            Param::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Param::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
    }
    out.push('}');
    out
}

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
        let (query, body, payload) = if m == "GET" {
            let payload = get_payload(params);
            (wire_query(&payload), Vec::new(), payload.into_bytes())
        } else {
            let body = post_body(params).into_bytes();
            (String::new(), body.clone(), body)
        };
        let sig = self.signature(timestamp_ms, recv_window_ms, &payload);
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
        assert_eq!(p.body, br#"{"symbol": "BTCUSDT", "category": "linear"}"#);
        assert_eq!(p.headers[0], ("Content-Type".to_owned(), "application/json".to_owned()));
        assert_eq!(p.headers[2].1, s.signature(1658384314791, 5000, &p.body));
    }

    #[test]
    fn reserved_characters_and_empty_post_as_pybit() {
        let s = BybitSigner::new("key", "secret").unwrap();
        let params =
            vec![("b".to_owned(), Param::Str("é".into())), ("a".to_owned(), Param::Str("x y+z/w:v%u[#]".into()))];
        let g = s.sign("GET", "/v5/order/realtime", &params, 1, 5000).unwrap();
        assert_eq!(g.query, "a=x%20y+z/w:v%25u%5B%23%5D&b=%C3%A9");
        assert_eq!(g.headers[1].1, s.signature(1, 5000, "a=x y+z/w:v%u[#]&b=é".as_bytes()));
        let p = s.sign("POST", "/v5/order/create", &params, 1, 5000).unwrap();
        assert_eq!(p.body, br#"{"b": "\u00e9", "a": "x y+z/w:v%u[#]"}"#);
        let e = s.sign("POST", "/v5/order/cancel-all", &[], 1, 5000).unwrap();
        assert_eq!(e.body, b"{}");
        assert_eq!(e.headers[2].1, s.signature(1, 5000, b"{}"));
        let cast = vec![("qty".to_owned(), Param::Int(5)), ("positionIdx".to_owned(), Param::Str("1".into()))];
        let c = s.sign("POST", "/v5/order/create", &cast, 1, 5000).unwrap();
        assert_eq!(c.body, br#"{"qty": "5", "positionIdx": 1}"#);
        let mut out = String::new();
        py_json_str(&mut out, "\u{7f}\u{1}\u{8}\u{c}\n\"\\😀");
        assert_eq!(out, r#""\u007f\u0001\b\f\n\"\\\ud83d\ude00""#);
    }
}
