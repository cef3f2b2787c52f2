//! Ethereum primitives for Polymarket: keccak-256, secp256k1 keys and recoverable signatures, EIP-55
//! addresses and EIP-712 digests.

use secp256k1::ecdsa::RecoverableSignature;
use secp256k1::{Message, PublicKey, Secp256k1, SecretKey, SignOnly};
use sha3::{Digest, Keccak256};

use crate::error::{clip, CoreError, CoreResult};

pub fn keccak(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Keccak256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decode exactly `N` bytes of hex, with or without `0x`.
pub fn hex_fixed<const N: usize>(s: &str) -> Option<[u8; N]> {
    let h = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s).as_bytes();
    if h.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = (hex_val(h[2 * i])? << 4) | hex_val(h[2 * i + 1])?;
    }
    Some(out)
}

/// An address from hex; mixed-case input must carry a valid EIP-55 checksum.
pub fn parse_address(s: &str) -> CoreResult<[u8; 20]> {
    let bad = || CoreError::InvalidArgument(format!("not an address: {:?}", clip(s)));
    let a = hex_fixed::<20>(s).ok_or_else(bad)?;
    let body = &s[s.len() - 40..];
    let mixed = body.bytes().any(|c| c.is_ascii_lowercase()) && body.bytes().any(|c| c.is_ascii_uppercase());
    if mixed && checksum_address(&a)[2..] != *body {
        return Err(CoreError::InvalidArgument(format!("bad EIP-55 checksum in address {:?}", clip(s))));
    }
    Ok(a)
}

/// EIP-55 mixed-case checksum encoding.
pub fn checksum_address(a: &[u8; 20]) -> String {
    let lower = super::crypto::hex_lower(a);
    let h = keccak(&[lower.as_bytes()]);
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let nibble = (h[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0xf;
        out.push(if c.is_ascii_alphabetic() && nibble >= 8 { c.to_ascii_uppercase() } else { c });
    }
    out
}

/// A uint256 from a decimal string (big-endian bytes).
pub fn u256_dec(s: &str) -> CoreResult<[u8; 32]> {
    let bad = |why: &str| CoreError::InvalidArgument(format!("{why}: {:?}", clip(s)));
    if s.is_empty() || s.len() > 78 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad("not a uint256 decimal"));
    }
    let mut limbs = [0u64; 4]; // little-endian limbs
    for c in s.bytes() {
        let mut carry = u128::from(c - b'0');
        for l in limbs.iter_mut() {
            let v = u128::from(*l) * 10 + carry;
            *l = v as u64;
            carry = v >> 64;
        }
        if carry != 0 {
            return Err(bad("uint256 overflow"));
        }
    }
    let mut out = [0u8; 32];
    for (i, l) in limbs.iter().enumerate() {
        out[32 - 8 * (i + 1)..32 - 8 * i].copy_from_slice(&l.to_be_bytes());
    }
    Ok(out)
}

pub fn u256(v: u128) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[16..].copy_from_slice(&v.to_be_bytes());
    out
}

pub fn address_word(a: &[u8; 20]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[12..].copy_from_slice(a);
    out
}

/// `keccak(0x19 0x01 || domainSeparator || structHash)`.
pub fn eip712_digest(domain: &[u8; 32], struct_hash: &[u8; 32]) -> [u8; 32] {
    keccak(&[b"\x19\x01", domain, struct_hash])
}

/// A secp256k1 private key (erased on drop) and its address, signing through libsecp256k1.
pub struct EthKey {
    ctx: Secp256k1<SignOnly>,
    key: SecretKey,
    address: [u8; 20],
}

impl EthKey {
    /// From 32 bytes of hex (with or without `0x`).
    pub fn from_hex(s: &str) -> CoreResult<EthKey> {
        let mut raw = hex_fixed::<32>(s.trim())
            .ok_or_else(|| CoreError::Credential("private key must be 32 bytes of hex".into()))?;
        let k = Self::from_bytes(&raw);
        zeroize::Zeroize::zeroize(&mut raw);
        k
    }

    pub fn from_bytes(raw: &[u8; 32]) -> CoreResult<EthKey> {
        let ctx = Secp256k1::signing_only();
        let key = SecretKey::from_slice(raw)
            .map_err(|_| CoreError::Credential("private key is not a valid secp256k1 scalar".into()))?;
        let public = PublicKey::from_secret_key(&ctx, &key).serialize_uncompressed();
        let h = keccak(&[&public[1..]]);
        let mut address = [0u8; 20];
        address.copy_from_slice(&h[12..]);
        Ok(EthKey { ctx, key, address })
    }

    pub fn address(&self) -> &[u8; 20] {
        &self.address
    }

    /// A recoverable signature `r || s || v` with `v` in {27, 28} (low-S, RFC 6979), as eth-account makes.
    pub fn sign_hash(&self, digest: &[u8; 32]) -> CoreResult<[u8; 65]> {
        let sig: RecoverableSignature = self.ctx.sign_ecdsa_recoverable(&Message::from_digest(*digest), &self.key);
        let (rec, rs) = sig.serialize_compact();
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&rs);
        out[64] = 27 + u8::try_from(rec.to_i32()).map_err(|_| CoreError::Credential("bad recovery id".into()))?;
        Ok(out)
    }
}

impl Drop for EthKey {
    fn drop(&mut self) {
        self.key.non_secure_erase();
    }
}

impl std::fmt::Debug for EthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EthKey({})", checksum_address(&self.address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_address_and_checksum() {
        // Hardhat/anvil account 0
        let k = EthKey::from_hex("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80").unwrap();
        assert_eq!(checksum_address(k.address()), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        assert!(parse_address("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266").is_ok());
        assert!(parse_address("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266").is_ok());
        assert!(parse_address("0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266").is_err());
        assert!(EthKey::from_hex("00").is_err());
        assert!(EthKey::from_hex(&"0".repeat(64)).is_err());
        assert_eq!(format!("{k:?}"), "EthKey(0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266)");
    }

    #[test]
    fn uint256() {
        assert_eq!(u256_dec("1").unwrap(), u256(1));
        assert_eq!(u256_dec("340282366920938463463374607431768211456").unwrap()[15], 1);
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(u256_dec(max).unwrap(), [0xff; 32]);
        assert!(u256_dec("115792089237316195423570985008687907853269984665640564039457584007913129639936").is_err());
        assert!(u256_dec("").is_err());
        assert!(u256_dec("-1").is_err());
    }
}
