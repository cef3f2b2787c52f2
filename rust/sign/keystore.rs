//! Web3 Secret Storage (keystore v3): scrypt or PBKDF2-HMAC-SHA256, AES-128-CTR, keccak MAC.
//!
//! The Polymarket wallet key comes from such a file (eth-account writes them), and API secrets can be
//! stored in the same format (`encrypt`, with any plaintext length). Decryption happens here, so the
//! plaintext goes straight into a [`Secret`] and never becomes a Python object.

use aes::cipher::{KeyIvInit, StreamCipher};
use serde_json::Value;

use super::crypto::hex_lower;
use super::eth::keccak;
use super::Secret;
use crate::error::{CoreError, CoreResult};

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

fn cred(msg: &str) -> CoreError {
    CoreError::Credential(format!("keystore: {msg}"))
}

fn hex_bytes(v: &Value, what: &str) -> CoreResult<Vec<u8>> {
    let s = v.as_str().ok_or_else(|| cred(&format!("{what} missing")))?;
    let h = s.strip_prefix("0x").unwrap_or(s);
    if h.len() % 2 != 0 {
        return Err(cred(&format!("{what} is not hex")));
    }
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).map_err(|_| cred(&format!("{what} is not hex"))))
        .collect()
}

fn uint(v: &Value, what: &str) -> CoreResult<u64> {
    v.as_u64().ok_or_else(|| cred(&format!("{what} missing or not an integer")))
}

/// Decrypt a v3 keystore with `password`; a wrong password is a MAC mismatch.
pub fn decrypt(json: &[u8], password: &[u8]) -> CoreResult<Secret> {
    let doc: Value = serde_json::from_slice(json).map_err(|_| cred("not JSON"))?;
    if doc.get("version").and_then(Value::as_u64) != Some(3) {
        return Err(cred("only version 3 is supported"));
    }
    let c = doc.get("crypto").or_else(|| doc.get("Crypto")).ok_or_else(|| cred("no crypto section"))?;
    if c["cipher"].as_str() != Some("aes-128-ctr") {
        return Err(cred("cipher must be aes-128-ctr"));
    }
    let stated_iv = hex_bytes(&c["cipherparams"]["iv"], "iv")?;
    let ciphertext = hex_bytes(&c["ciphertext"], "ciphertext")?;
    let mac = hex_bytes(&c["mac"], "mac")?;
    let kp = &c["kdfparams"];
    let dklen = uint(&kp["dklen"], "dklen")? as usize;
    if dklen < 32 || stated_iv.is_empty() || stated_iv.len() > 16 {
        return Err(cred("dklen must be >= 32 and the iv at most 16 bytes"));
    }
    // eth-keyfile (eth-account's wallet files) writes the iv as an integer, dropping leading zero bytes,
    // and reads it back as one: a shorter iv is the same counter, left-padded with zeros.
    let mut iv = [0u8; 16];
    iv[16 - stated_iv.len()..].copy_from_slice(&stated_iv);
    let salt = hex_bytes(&kp["salt"], "salt")?;
    let mut derived = zeroize::Zeroizing::new(vec![0u8; dklen]);
    match c["kdf"].as_str() {
        Some("scrypt") => {
            let n = uint(&kp["n"], "n")?;
            if !n.is_power_of_two() || n < 2 {
                return Err(cred("scrypt n must be a power of two"));
            }
            let params = scrypt::Params::new(
                n.trailing_zeros() as u8,
                uint(&kp["r"], "r")? as u32,
                uint(&kp["p"], "p")? as u32,
                dklen,
            )
            .map_err(|_| cred("bad scrypt parameters"))?;
            scrypt::scrypt(password, &salt, &params, &mut derived).map_err(|_| cred("scrypt failed"))?;
        }
        Some("pbkdf2") => {
            if kp["prf"].as_str() != Some("hmac-sha256") {
                return Err(cred("pbkdf2 prf must be hmac-sha256"));
            }
            let rounds = u32::try_from(uint(&kp["c"], "c")?).map_err(|_| cred("pbkdf2 c too large"))?;
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, &salt, rounds, &mut derived);
        }
        _ => return Err(cred("kdf must be scrypt or pbkdf2")),
    }
    if keccak(&[&derived[16..32], &ciphertext]).as_slice() != mac.as_slice() {
        return Err(cred("wrong password (MAC mismatch)"));
    }
    let mut plain = ciphertext;
    Aes128Ctr::new(derived[..16].into(), (&iv).into()).apply_keystream(&mut plain);
    Secret::new("keystore plaintext", plain)
}

/// Encrypt `plaintext` as a v3 keystore (scrypt with `n = 2^log_n`, r = 8, p = 1). Salt and IV come from
/// the caller (the core has no randomness): 32 and 16 random bytes.
pub fn encrypt(
    plaintext: &[u8],
    password: &[u8],
    salt: &[u8; 32],
    iv: &[u8; 16],
    log_n: u8,
    id: &str,
) -> CoreResult<String> {
    let params = scrypt::Params::new(log_n, 8, 1, 32).map_err(|_| cred("bad scrypt parameters"))?;
    let mut derived = zeroize::Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, derived.as_mut()).map_err(|_| cred("scrypt failed"))?;
    let mut ct = plaintext.to_vec();
    Aes128Ctr::new(derived[..16].into(), iv.into()).apply_keystream(&mut ct);
    let mac = keccak(&[&derived[16..32], &ct]);
    Ok(serde_json::json!({
        "version": 3,
        "id": id,
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": {"iv": hex_lower(iv)},
            "ciphertext": hex_lower(&ct),
            "kdf": "scrypt",
            "kdfparams": {"dklen": 32, "n": 1u64 << log_n, "r": 8, "p": 1, "salt": hex_lower(salt)},
            "mac": hex_lower(&mac),
        }
    })
    .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_wrong_password() {
        let json = encrypt(b"api-secret-of-any-length", b"pw", &[7; 32], &[9; 16], 10, "id").unwrap();
        assert_eq!(decrypt(json.as_bytes(), b"pw").unwrap().expose(), b"api-secret-of-any-length");
        let e = decrypt(json.as_bytes(), b"wrong").unwrap_err();
        assert_eq!(e.to_string(), "credential error: keystore: wrong password (MAC mismatch)");
        assert!(decrypt(b"{}", b"pw").is_err());
        assert!(decrypt(b"not json", b"pw").is_err());
    }
}
