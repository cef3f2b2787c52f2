//! OKX v5: base64 HMAC-SHA256 of `timestamp + METHOD + requestPath(+query) + body`, with an ISO-8601
//! millisecond UTC timestamp and the passphrase header; `x-simulated-trading` selects demo trading.

use super::binance::api_key;
use super::crypto::{b64, hmac_sha256};
use super::encode::{form, json_object, Param};
use super::{method, path, Secret, SignedRequest};
use crate::error::{CoreError, CoreResult};

pub struct OkxSigner {
    api_key: String,
    secret: Secret,
    passphrase: Secret,
    simulated: bool,
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `2020-12-08T09:08:57.715Z` from milliseconds since the epoch.
pub fn iso8601_ms(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", sod / 3600, sod % 3600 / 60, sod % 60, ms % 1000)
}

impl OkxSigner {
    pub fn new(key: &str, secret: &str, passphrase: &str, simulated: bool) -> CoreResult<OkxSigner> {
        Ok(OkxSigner {
            api_key: api_key("okx", key)?,
            secret: Secret::new("okx api secret", secret.into())?,
            passphrase: Secret::new("okx passphrase", passphrase.into())?,
            simulated,
        })
    }

    /// base64 HMAC-SHA256 of the pre-hash string.
    pub fn signature(&self, prehash: &[u8]) -> String {
        b64(&hmac_sha256(self.secret.expose(), &[prehash]))
    }

    pub fn sign(
        &self,
        http_method: &str,
        request_path: &str,
        params: &[(String, Param)],
        timestamp_ms: u64,
    ) -> CoreResult<SignedRequest> {
        let m = method(http_method)?;
        let p = path(request_path)?;
        let (query, body) = if m == "GET" || m == "DELETE" {
            (form(params), String::new())
        } else {
            (String::new(), json_object(params))
        };
        let ts = iso8601_ms(timestamp_ms);
        let target = if query.is_empty() { p.to_owned() } else { format!("{p}?{query}") };
        let sig = self.signature(format!("{ts}{m}{target}{body}").as_bytes());
        let passphrase = String::from_utf8(self.passphrase.expose().to_vec())
            .map_err(|_| CoreError::Credential("okx passphrase is not UTF-8".into()))?;
        let headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("OK-ACCESS-KEY".to_owned(), self.api_key.clone()),
            ("OK-ACCESS-SIGN".to_owned(), sig),
            ("OK-ACCESS-TIMESTAMP".to_owned(), ts),
            ("OK-ACCESS-PASSPHRASE".to_owned(), passphrase),
            ("x-simulated-trading".to_owned(), if self.simulated { "1" } else { "0" }.to_owned()),
        ];
        Ok(SignedRequest { method: m, path: p.to_owned(), query, body: body.into_bytes(), headers })
    }

    /// WebSocket login arguments for `timestamp_s` (Unix seconds): (apiKey, passphrase, timestamp, sign).
    pub fn ws_login(&self, timestamp_s: u64) -> CoreResult<(String, String, String, String)> {
        let ts = timestamp_s.to_string();
        let sign = self.signature(format!("{ts}GET/users/self/verify").as_bytes());
        let passphrase = String::from_utf8(self.passphrase.expose().to_vec())
            .map_err(|_| CoreError::Credential("okx passphrase is not UTF-8".into()))?;
        Ok((self.api_key.clone(), passphrase, ts, sign))
    }
}

impl std::fmt::Debug for OkxSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OkxSigner(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(iso8601_ms(1_607_418_537_715), "2020-12-08T09:08:57.715Z");
        assert_eq!(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_ms(951_782_400_001), "2000-02-29T00:00:00.001Z");
        assert_eq!(iso8601_ms(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn doc_examples() {
        // ../shared/venues/okx.md §2: self-computed with the doc's illustrative secret, reproduced by python-okx.
        let s = OkxSigner::new("k", "22582BD0CFF14C41EDBF1AB98506286D", "p", false).unwrap();
        let q = vec![("ccy".to_owned(), Param::Str("BTC".into()))];
        let r = s.sign("GET", "/api/v5/account/balance", &q, 1_607_418_537_715).unwrap();
        assert_eq!(r.headers[2].1, "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY=");
        assert_eq!(s.ws_login(1538054050).unwrap().3, "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M=");
    }
}
