//! Kraken spot REST: `API-Sign = base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce + body)))`.
//!
//! Nonces are strictly increasing per key: each is `max(now in ms, last + 1)`, and the last one is
//! readable (it is not secret) so the caller can persist it and pass it back after a restart. A wall
//! clock that steps backwards therefore never produces a repeated or smaller nonce.

use super::binance::api_key;
use super::crypto::{b64, b64_decode, hmac_sha512, sha256};
use super::encode::{form, Param};
use super::{path, Secret, SignedRequest};
use crate::error::{CoreError, CoreResult};

pub struct KrakenSigner {
    api_key: String,
    secret: Secret,
    last_nonce: u64,
}

impl KrakenSigner {
    pub fn new(key: &str, secret_b64: &str, last_nonce: u64) -> CoreResult<KrakenSigner> {
        let raw = b64_decode(secret_b64)
            .ok_or_else(|| CoreError::Credential("kraken api secret is not valid base64".into()))?;
        Ok(KrakenSigner {
            api_key: api_key("kraken", key)?,
            secret: Secret::new("kraken api secret", raw)?,
            last_nonce,
        })
    }

    pub fn last_nonce(&self) -> u64 {
        self.last_nonce
    }

    /// The nonce a request signed at `now_ns` would take (nothing taken): milliseconds since the epoch,
    /// or one more than the last if the clock lags.
    pub fn peek_nonce(&self, now_ns: u64) -> u64 {
        (now_ns / 1_000_000).max(self.last_nonce.saturating_add(1))
    }

    /// The next nonce, taken: no later request signs with it or anything below it.
    pub fn next_nonce(&mut self, now_ns: u64) -> u64 {
        let n = self.peek_nonce(now_ns);
        self.last_nonce = n;
        n
    }

    /// API-Sign for a URI path, nonce and the exact body.
    pub fn signature(&self, uri_path: &str, nonce: u64, body: &[u8]) -> String {
        let digest = sha256(&[nonce.to_string().as_bytes(), body]);
        b64(&hmac_sha512(self.secret.expose(), &[uri_path.as_bytes(), &digest]))
    }

    /// A private POST: body `nonce=<n>&<params>` (form-encoded), signed over the exact bytes; its nonce
    /// is taken (see `next_nonce`).
    pub fn sign(&mut self, uri_path: &str, params: Vec<(String, Param)>, now_ns: u64) -> CoreResult<SignedRequest> {
        let nonce = self.peek_nonce(now_ns);
        let req = self.request(uri_path, &params, nonce)?;
        self.last_nonce = nonce;
        Ok(req)
    }

    /// What `sign` would return at `now_ns`, its nonce left untaken (a rehearsal of a request: nothing
    /// the venue checks is used up, and the next `sign` at the same instant builds the same bytes).
    pub fn rehearse(&self, uri_path: &str, params: Vec<(String, Param)>, now_ns: u64) -> CoreResult<SignedRequest> {
        self.request(uri_path, &params, self.peek_nonce(now_ns))
    }

    fn request(&self, uri_path: &str, params: &[(String, Param)], nonce: u64) -> CoreResult<SignedRequest> {
        let p = path(uri_path)?.to_owned();
        if params.iter().any(|(k, _)| k == "nonce") {
            return Err(CoreError::InvalidArgument("nonce is set by the signer".into()));
        }
        let rest = form(params);
        let body =
            if rest.is_empty() { format!("nonce={nonce}") } else { format!("nonce={nonce}&{rest}") }.into_bytes();
        let sig = self.signature(&p, nonce, &body);
        Ok(SignedRequest {
            method: "POST".to_owned(),
            path: p,
            query: String::new(),
            body,
            headers: vec![
                ("Content-Type".to_owned(), "application/x-www-form-urlencoded; charset=utf-8".to_owned()),
                ("API-Key".to_owned(), self.api_key.clone()),
                ("API-Sign".to_owned(), sig),
            ],
        })
    }
}

impl std::fmt::Debug for KrakenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KrakenSigner(***, last_nonce={})", self.last_nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_vector() {
        let v: serde_json::Value = serde_json::from_str(include_str!("../../tests/vectors/signing.json")).unwrap();
        let k = &v["kraken"];
        let s = KrakenSigner::new("key", k["secret"].as_str().unwrap(), 0).unwrap();
        let sig = s.signature(
            k["path"].as_str().unwrap(),
            k["nonce"].as_u64().unwrap(),
            k["payload"].as_str().unwrap().as_bytes(),
        );
        assert_eq!(sig, k["signature"].as_str().unwrap());
    }

    #[test]
    fn request_body_and_nonces() {
        let mut s = KrakenSigner::new(
            "key",
            "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==",
            0,
        )
        .unwrap();
        let params = vec![
            ("ordertype".to_owned(), Param::Str("limit".into())),
            ("pair".to_owned(), Param::Str("XBTUSD".into())),
            ("price".to_owned(), Param::Str("37500".into())),
            ("type".to_owned(), Param::Str("buy".into())),
            ("volume".to_owned(), Param::Str("1.25".into())),
        ];
        let r = s.sign("/0/private/AddOrder", params, 1_616_492_376_594_000_000).unwrap();
        assert_eq!(r.body, b"nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25");
        assert_eq!(
            r.headers[2].1,
            "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
        );
        // the clock steps back: the nonce still grows
        assert_eq!(s.next_nonce(1_000_000_000_000), 1_616_492_376_595);
        // restart from a persisted nonce
        let mut t = KrakenSigner::new("key", "c2VjcmV0", 1_616_492_376_595).unwrap();
        assert_eq!(t.next_nonce(0), 1_616_492_376_596);
        assert!(KrakenSigner::new("key", "not base64!", 0).is_err());
        assert!(KrakenSigner::new("key", "", 0).is_err());
    }

    #[test]
    fn a_rehearsal_signs_the_next_request_and_takes_no_nonce() {
        let mut s = KrakenSigner::new("key", "c2VjcmV0", 1_616_492_376_594).unwrap();
        let params = vec![("pair".to_owned(), Param::Str("XBTUSD".into()))];
        let at = 1_616_492_376_594_000_000; // the clock lags the last nonce: the next is last + 1
        let rehearsed = s.rehearse("/0/private/AddOrder", params.clone(), at).unwrap();
        let again = s.rehearse("/0/private/AddOrder", params.clone(), at).unwrap();
        assert_eq!(s.last_nonce(), 1_616_492_376_594, "nothing taken");
        let sent = s.sign("/0/private/AddOrder", params.clone(), at).unwrap();
        assert_eq!(sent.body, b"nonce=1616492376595&pair=XBTUSD");
        assert_eq!((&rehearsed.body, &rehearsed.headers), (&sent.body, &sent.headers));
        assert_eq!((&again.body, &again.headers), (&sent.body, &sent.headers));
        assert_eq!(s.last_nonce(), 1_616_492_376_595);
        assert!(s.rehearse("/0/private/AddOrder", vec![("nonce".to_owned(), Param::Int(1))], at).is_err());
        assert!(s.sign("/0/private/AddOrder", vec![("nonce".to_owned(), Param::Int(1))], at).is_err());
        assert_eq!(s.last_nonce(), 1_616_492_376_595, "a refused request takes no nonce");
    }
}
