//! Polymarket CLOB: L1 `ClobAuth` EIP-712 headers, L2 HMAC headers, and CLOB V2 orders signed as
//! EIP-712 for the CTF Exchange and the Neg Risk CTF Exchange, with maker/taker amounts computed from
//! price, size, side and tick size by the py-clob-client-v2 rules in exact decimal arithmetic.
//!
//! Facts: ../shared/venues/polymarket.md §2, §4, §11, confirmed in py-clob-client-v2 1.2.1
//! (`signing/eip712.py`, `signing/hmac.py`, `order_builder/builder.py`, `order_utils/*_v2*.py`).

use std::fmt::Write;

use super::binance::api_key;
use super::crypto::{b64_urlsafe, b64_urlsafe_decode, hex_lower, hmac_sha256};
use super::eth::{address_word, checksum_address, eip712_digest, keccak, parse_address, u256, u256_dec, EthKey};
use super::{method, path, Secret, SignedRequest};
use crate::error::{clip, CoreError, CoreResult};
use crate::types::{Dec, Side};

pub const CLOB_AUTH_MESSAGE: &str = "This message attests that I control the given wallet";
const ORDER_TYPE: &str = "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,\
uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)";
const DOMAIN_TYPE: &str = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
const AUTH_DOMAIN_TYPE: &str = "EIP712Domain(string name,string version,uint256 chainId)";
const AUTH_TYPE: &str = "ClobAuth(address address,string timestamp,uint256 nonce,string message)";
const EXCHANGE_NAME: &str = "Polymarket CTF Exchange";
const TYPED_DATA_SIGN: &str = "TypedDataSign(Order contents,string name,string version,uint256 chainId,\
address verifyingContract,bytes32 salt)";
/// CLOB V2 exchange contracts (the same on Polygon 137 and Amoy 80002).
pub const EXCHANGE_V2: &str = "0xE111180000d2663C0091e4f400237545B87B996B";
pub const NEG_RISK_EXCHANGE_V2: &str = "0xe2222d279d744050d28e00520010520000310F59";
/// Protocol V2 markets (position ids) trade on ExchangeV3, EIP-712 domain version "3", neg risk or not
/// (polymarket-client 0.14.0: `environments.py` `exchange_v3`, `actions/orders/orders.py`
/// `protocol_version="3" if is_v2_position_id(...)`, `context.py` `resolve_order_exchange_address`;
/// py-clob-client-v2 1.2.1 `config.py`, whose Amoy ExchangeV3 differs).
pub const EXCHANGE_V3: &str = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa";
pub const EXCHANGE_V3_AMOY: &str = "0x9fE6e61422AdB6F610d8597F9684b16912D50C3D";
const ORDER_TYPE_V1: &str = "Order(uint256 salt,address maker,address signer,address taker,uint256 tokenId,\
uint256 makerAmount,uint256 takerAmount,uint256 expiration,uint256 nonce,uint256 feeRateBps,uint8 side,\
uint8 signatureType)";
/// Legacy CLOB V1 exchanges (domain version "1"); production left V1 on 2026-04-28.
fn v1_exchanges(chain_id: u64) -> Option<(&'static str, &'static str)> {
    match chain_id {
        137 => Some(("0x4bFb41d5B3570DeFd03C39a9A4D8dE6Bd8B8982E", "0xC5d563A36AE78145C45a50134d48A1215220f80a")),
        80002 => Some(("0xdFE02Eb6733538f8Ea35D585af8DE5958AD99E40", "0xC5d563A36AE78145C45a50134d48A1215220f80a")),
        _ => None,
    }
}
pub const BYTES32_ZERO: &str = "0x0000000000000000000000000000000000000000000000000000000000000000";

/// How the maker's funds are held (`signatureType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureType {
    Eoa = 0,
    PolyProxy = 1,
    PolyGnosisSafe = 2,
    /// ERC-1271 smart-contract wallets (Polymarket deposit wallets): the EOA signs an ERC-7739
    /// `TypedDataSign` wrapper and the signature carries the domain, contents hash and type string.
    Poly1271 = 3,
}

/// Price decimals and amount decimals per tick size (py-clob-client-v2 `ROUNDING_CONFIG`; size has 2).
fn round_config(tick: &str) -> CoreResult<(u32, u32)> {
    Ok(match tick {
        "0.1" => (1, 3),
        "0.01" => (2, 4),
        "0.005" => (3, 5),
        "0.0025" => (4, 6),
        "0.001" => (3, 5),
        "0.0001" => (4, 6),
        _ => return Err(CoreError::InvalidArgument(format!("unsupported tick size {:?}", clip(tick)))),
    })
}

/// (makerAmount, takerAmount) in 10^-6 units for a limit order.
///
/// The SDK's rules, exactly: the price must be on the tick and within [tick, 1 - tick]; the size is
/// floored to 2 decimals; BUY pays `size * price` collateral for `size` shares, SELL the reverse. Since
/// `amount_dp = price_dp + 2` for every tick size, the product never needs the SDK's re-rounding.
pub fn limit_amounts(side: Side, price: &str, size: &str, tick: &str) -> CoreResult<(u128, u128)> {
    let (price_dp, _amount_dp) = round_config(tick)?;
    let t = Dec::parse(tick)?;
    let p = Dec::parse(price)?;
    let ticks = p.div_exact(t).ok_or_else(|| CoreError::NotOnStep {
        what: "price",
        value: p.to_string(),
        step: t.to_string(),
    })?;
    let one = Dec { mantissa: 1, scale: 0 }.div_exact(t).unwrap_or(0);
    if ticks < 1 || ticks > one - 1 {
        return Err(CoreError::InvalidArgument(format!("price {} outside [{t}, 1 - {t}]", p)));
    }
    let price_units = p.mantissa_at(price_dp).ok_or(CoreError::Overflow("price"))?; // price * 10^price_dp
    let s = Dec::parse(size)?;
    if s.mantissa <= 0 {
        return Err(CoreError::InvalidArgument("size must be > 0".into()));
    }
    let cents = if s.scale <= 2 {
        s.mantissa_at(2).ok_or(CoreError::Overflow("size"))?
    } else {
        s.mantissa / 10i128.pow(s.scale - 2)
    };
    if cents <= 0 {
        return Err(CoreError::InvalidArgument("size rounds down to 0 at 2 decimals".into()));
    }
    let shares = cents.checked_mul(10_000).ok_or(CoreError::Overflow("size"))?;
    let collateral = cents
        .checked_mul(price_units)
        .and_then(|v| v.checked_mul(10i128.pow(4 - price_dp)))
        .ok_or(CoreError::Overflow("amount"))?;
    let (maker, taker) = match side {
        Side::Buy => (collateral, shares),
        Side::Sell => (shares, collateral),
    };
    Ok((maker as u128, taker as u128))
}

/// A signed CLOB V2 order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedOrder {
    /// Exchange version: 2 (CLOB V2, CTF markets), 3 (ExchangeV3, Protocol V2 markets) or 1 (legacy).
    pub version: u8,
    pub salt: u64,
    pub maker: String,
    pub signer: String,
    pub token_id: String,
    pub maker_amount: u128,
    pub taker_amount: u128,
    pub side: Side,
    pub signature_type: SignatureType,
    pub timestamp_ms: u64,
    pub expiration: u64,
    pub metadata: String,
    pub builder: String,
    /// V1 only.
    pub nonce: u64,
    pub fee_rate_bps: u64,
    pub signature: String,
    /// The EIP-712 hash of the order (the venue's order id).
    pub hash: String,
}

impl SignedOrder {
    /// The `POST /order` body exactly as py-clob-client-v2 serializes it (compact JSON).
    pub fn body(&self, owner: &str, order_type: &str, post_only: bool, defer_exec: bool) -> String {
        let mut s = String::with_capacity(640);
        self.write_json(&mut s, owner, order_type, post_only, defer_exec);
        s
    }

    pub(crate) fn write_json(&self, s: &mut String, owner: &str, order_type: &str, post_only: bool, defer_exec: bool) {
        let side = match self.side {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        };
        if self.version == 1 {
            let _ = write!(
                s,
                r#"{{"order":{{"salt":{},"maker":"{}","signer":"{}","taker":"0x0000000000000000000000000000000000000000","tokenId":"{}","makerAmount":"{}","takerAmount":"{}","side":"{}","expiration":"{}","nonce":"{}","feeRateBps":"{}","signatureType":{},"signature":"{}"}},"owner":"{}","orderType":"{}","deferExec":{},"postOnly":{}}}"#,
                self.salt,
                self.maker,
                self.signer,
                self.token_id,
                self.maker_amount,
                self.taker_amount,
                side,
                self.expiration,
                self.nonce,
                self.fee_rate_bps,
                self.signature_type as u8,
                self.signature,
                owner,
                order_type,
                defer_exec,
                post_only
            );
            return;
        }
        let _ = write!(
            s,
            r#"{{"order":{{"salt":{},"maker":"{}","signer":"{}","tokenId":"{}","makerAmount":"{}","takerAmount":"{}","side":"{}","expiration":"{}","signatureType":{},"timestamp":"{}","metadata":"{}","builder":"{}","signature":"{}"}},"owner":"{}","orderType":"{}","deferExec":{},"postOnly":{}}}"#,
            self.salt,
            self.maker,
            self.signer,
            self.token_id,
            self.maker_amount,
            self.taker_amount,
            side,
            self.expiration,
            self.signature_type as u8,
            self.timestamp_ms,
            self.metadata,
            self.builder,
            self.signature,
            owner,
            order_type,
            defer_exec,
            post_only
        );
    }
}

/// What an order needs beyond the signer's own settings.
#[derive(Clone, Debug)]
pub struct OrderArgs<'a> {
    pub token_id: &'a str,
    pub price: &'a str,
    pub size: &'a str,
    pub side: Side,
    pub tick_size: &'a str,
    pub neg_risk: bool,
    pub salt: u64,
    pub timestamp_ms: u64,
    pub expiration: u64,
    pub metadata: Option<&'a str>,
    pub builder: Option<&'a str>,
    /// 2 (CLOB V2 exchanges: CTF markets), 3 (ExchangeV3, domain version "3": Protocol V2 markets,
    /// whose token ids are position ids) or 1 (legacy V1 exchange: nonce and feeRateBps are signed).
    pub version: u8,
    pub nonce: u64,
    pub fee_rate_bps: u64,
}

struct ApiCreds {
    key: String,
    secret: Secret,
    passphrase: Secret,
}

/// The Polymarket wallet signer: orders (EIP-712), L1 and L2 headers. The private key and the API
/// secret stay inside.
pub struct PolymarketSigner {
    key: EthKey,
    chain_id: u64,
    signature_type: SignatureType,
    funder: [u8; 20],
    address: String,
    funder_str: String,
    /// CTF Exchange V2, Neg Risk CTF Exchange V2, ExchangeV3
    domains: [[u8; 32]; 3],
    order_typehash: [u8; 32],
    creds: Option<ApiCreds>,
}

fn domain_separator(version: &str, chain_id: u64, contract: &str) -> CoreResult<[u8; 32]> {
    let c = parse_address(contract)?;
    Ok(keccak(&[
        &keccak(&[DOMAIN_TYPE.as_bytes()]),
        &keccak(&[EXCHANGE_NAME.as_bytes()]),
        &keccak(&[version.as_bytes()]),
        &u256(u128::from(chain_id)),
        &address_word(&c),
    ]))
}

fn bytes32(what: &str, s: Option<&str>) -> CoreResult<[u8; 32]> {
    match s {
        None => Ok([0u8; 32]),
        Some(h) => super::eth::hex_fixed::<32>(h)
            .ok_or_else(|| CoreError::InvalidArgument(format!("{what} must be 32 bytes of hex"))),
    }
}

impl PolymarketSigner {
    pub fn new(
        private_key: &str,
        chain_id: u64,
        signature_type: SignatureType,
        funder: Option<&str>,
    ) -> CoreResult<Self> {
        let key = EthKey::from_hex(private_key)?;
        let funder = match (signature_type, funder) {
            (SignatureType::Eoa, None) => *key.address(),
            (SignatureType::Eoa, Some(f)) => {
                let f = parse_address(f)?;
                if f != *key.address() {
                    return Err(CoreError::InvalidArgument("an EOA order's maker is the signer itself".into()));
                }
                f
            }
            (_, Some(f)) => parse_address(f)?,
            (_, None) => {
                return Err(CoreError::InvalidArgument("proxy and Safe wallets need the funder address".into()));
            }
        };
        Ok(PolymarketSigner {
            address: checksum_address(key.address()),
            funder_str: checksum_address(&funder),
            key,
            chain_id,
            signature_type,
            funder,
            domains: [
                domain_separator("2", chain_id, EXCHANGE_V2)?,
                domain_separator("2", chain_id, NEG_RISK_EXCHANGE_V2)?,
                domain_separator("3", chain_id, if chain_id == 80002 { EXCHANGE_V3_AMOY } else { EXCHANGE_V3 })?,
            ],
            order_typehash: keccak(&[ORDER_TYPE.as_bytes()]),
            creds: None,
        })
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// A recoverable signature (r, s, v = 27 + recovery id) of a 32-byte digest (polymarket_tx.rs).
    pub(super) fn sign_digest(&self, digest: &[u8; 32]) -> CoreResult<[u8; 65]> {
        self.key.sign_hash(digest)
    }

    pub fn funder(&self) -> &str {
        &self.funder_str
    }

    pub fn set_api_creds(&mut self, key: &str, secret: &str, passphrase: &str) -> CoreResult<()> {
        let raw = b64_urlsafe_decode(secret)
            .ok_or_else(|| CoreError::Credential("polymarket api secret is not valid urlsafe base64".into()))?;
        self.creds = Some(ApiCreds {
            key: api_key("polymarket", key)?,
            secret: Secret::new("polymarket api secret", raw)?,
            passphrase: Secret::new("polymarket passphrase", passphrase.into())?,
        });
        Ok(())
    }

    /// L1 headers (`POST /auth/api-key`, `GET /auth/derive-api-key`): an EIP-712 `ClobAuth` signature.
    pub fn l1_headers(&self, timestamp_s: u64, nonce: u64) -> CoreResult<Vec<(String, String)>> {
        let ts = timestamp_s.to_string();
        let domain = keccak(&[
            &keccak(&[AUTH_DOMAIN_TYPE.as_bytes()]),
            &keccak(&[b"ClobAuthDomain"]),
            &keccak(&[b"1"]),
            &u256(u128::from(self.chain_id)),
        ]);
        let st = keccak(&[
            &keccak(&[AUTH_TYPE.as_bytes()]),
            &address_word(self.key.address()),
            &keccak(&[ts.as_bytes()]),
            &u256(u128::from(nonce)),
            &keccak(&[CLOB_AUTH_MESSAGE.as_bytes()]),
        ]);
        let sig = self.key.sign_hash(&eip712_digest(&domain, &st))?;
        Ok(vec![
            ("POLY_ADDRESS".into(), self.address.clone()),
            ("POLY_SIGNATURE".into(), format!("0x{}", hex_lower(&sig))),
            ("POLY_TIMESTAMP".into(), ts),
            ("POLY_NONCE".into(), nonce.to_string()),
        ])
    }

    /// urlsafe-base64 HMAC-SHA256 of `timestamp + METHOD + path + body` with the API secret.
    pub fn l2_signature(
        &self,
        timestamp_s: u64,
        http_method: &str,
        request_path: &str,
        body: &[u8],
    ) -> CoreResult<String> {
        let c = self.creds.as_ref().ok_or_else(|| CoreError::Credential("no polymarket api credentials set".into()))?;
        let prefix = format!("{timestamp_s}{http_method}{request_path}");
        Ok(b64_urlsafe(&hmac_sha256(c.secret.expose(), &[prefix.as_bytes(), body])))
    }

    /// L2 headers for a request whose exact body is `body` (the path carries no query string).
    pub fn l2_headers(
        &self,
        timestamp_s: u64,
        http_method: &str,
        request_path: &str,
        body: &[u8],
    ) -> CoreResult<Vec<(String, String)>> {
        let sig = self.l2_signature(timestamp_s, http_method, request_path, body)?;
        let c = self.creds.as_ref().ok_or_else(|| CoreError::Credential("no polymarket api credentials set".into()))?;
        let passphrase = String::from_utf8(c.passphrase.expose().to_vec())
            .map_err(|_| CoreError::Credential("polymarket passphrase is not UTF-8".into()))?;
        Ok(vec![
            ("POLY_ADDRESS".into(), self.address.clone()),
            ("POLY_SIGNATURE".into(), sig),
            ("POLY_TIMESTAMP".into(), timestamp_s.to_string()),
            ("POLY_API_KEY".into(), c.key.clone()),
            ("POLY_PASSPHRASE".into(), passphrase),
        ])
    }

    /// Build and sign a limit order for the V2 exchanges, ExchangeV3 (version 3) or the legacy V1 one.
    pub fn order(&self, a: &OrderArgs<'_>) -> CoreResult<SignedOrder> {
        match a.version {
            2 | 3 => self.order_v2(a),
            1 => self.order_v1(a),
            v => Err(CoreError::InvalidArgument(format!("exchange version {v} is not 1, 2 or 3"))),
        }
    }

    fn order_v1(&self, a: &OrderArgs<'_>) -> CoreResult<SignedOrder> {
        if self.signature_type == SignatureType::Poly1271 {
            return Err(CoreError::InvalidArgument("POLY_1271 is not supported for V1 orders".into()));
        }
        let (exchange, neg_risk) = v1_exchanges(self.chain_id)
            .ok_or_else(|| CoreError::InvalidArgument(format!("no V1 exchange on chain {}", self.chain_id)))?;
        let domain = domain_separator("1", self.chain_id, if a.neg_risk { neg_risk } else { exchange })?;
        let (maker_amount, taker_amount) = limit_amounts(a.side, a.price, a.size, a.tick_size)?;
        let side = match a.side {
            Side::Buy => 0u128,
            Side::Sell => 1,
        };
        let st = keccak(&[
            &keccak(&[ORDER_TYPE_V1.as_bytes()]),
            &u256(u128::from(a.salt)),
            &address_word(&self.funder),
            &address_word(self.key.address()),
            &[0u8; 32],
            &u256_dec(a.token_id)?,
            &u256(maker_amount),
            &u256(taker_amount),
            &u256(u128::from(a.expiration)),
            &u256(u128::from(a.nonce)),
            &u256(u128::from(a.fee_rate_bps)),
            &u256(side),
            &u256(self.signature_type as u128),
        ]);
        let digest = eip712_digest(&domain, &st);
        Ok(SignedOrder {
            version: 1,
            salt: a.salt,
            maker: self.funder_str.clone(),
            signer: self.address.clone(),
            token_id: a.token_id.to_owned(),
            maker_amount,
            taker_amount,
            side: a.side,
            signature_type: self.signature_type,
            timestamp_ms: 0,
            expiration: a.expiration,
            metadata: String::new(),
            builder: String::new(),
            nonce: a.nonce,
            fee_rate_bps: a.fee_rate_bps,
            signature: format!("0x{}", hex_lower(&self.key.sign_hash(&digest)?)),
            hash: format!("0x{}", hex_lower(&digest)),
        })
    }

    fn order_v2(&self, a: &OrderArgs<'_>) -> CoreResult<SignedOrder> {
        let (maker_amount, taker_amount) = limit_amounts(a.side, a.price, a.size, a.tick_size)?;
        let token = u256_dec(a.token_id)?;
        let metadata = bytes32("metadata", a.metadata)?;
        let builder = bytes32("builder", a.builder)?;
        let side = match a.side {
            Side::Buy => 0u128,
            Side::Sell => 1,
        };
        let signer = if self.signature_type == SignatureType::Poly1271 { self.funder } else { *self.key.address() };
        let st = keccak(&[
            &self.order_typehash,
            &u256(u128::from(a.salt)),
            &address_word(&self.funder),
            &address_word(&signer),
            &token,
            &u256(maker_amount),
            &u256(taker_amount),
            &u256(side),
            &u256(self.signature_type as u128),
            &u256(u128::from(a.timestamp_ms)),
            &metadata,
            &builder,
        ]);
        let domain = &self.domains[if a.version == 3 { 2 } else { usize::from(a.neg_risk) }];
        let digest = eip712_digest(domain, &st);
        let signature = if self.signature_type == SignatureType::Poly1271 {
            self.sign_1271(domain, &st, &signer)?
        } else {
            format!("0x{}", hex_lower(&self.key.sign_hash(&digest)?))
        };
        Ok(SignedOrder {
            version: a.version,
            salt: a.salt,
            maker: self.funder_str.clone(),
            signer: checksum_address(&signer),
            token_id: a.token_id.to_owned(),
            maker_amount,
            taker_amount,
            side: a.side,
            signature_type: self.signature_type,
            timestamp_ms: a.timestamp_ms,
            expiration: a.expiration,
            metadata: format!("0x{}", hex_lower(&metadata)),
            builder: format!("0x{}", hex_lower(&builder)),
            nonce: 0,
            fee_rate_bps: 0,
            signature,
            hash: format!("0x{}", hex_lower(&digest)),
        })
    }

    /// ERC-1271 (ERC-7739 nested typed data) signature as py-clob-client-v2 builds it for POLY_1271:
    /// the EOA signs `TypedDataSign(contents, "DepositWallet", "1", chainId, wallet, 0)` under the
    /// exchange domain, and the signature appends the domain separator, the contents hash, the contents
    /// type string and its 2-byte length.
    fn sign_1271(&self, app_domain: &[u8; 32], contents: &[u8; 32], wallet: &[u8; 20]) -> CoreResult<String> {
        let typehash = keccak(&[TYPED_DATA_SIGN.as_bytes(), ORDER_TYPE.as_bytes()]);
        let st = keccak(&[
            &typehash,
            contents,
            &keccak(&[b"DepositWallet"]),
            &keccak(&[b"1"]),
            &u256(u128::from(self.chain_id)),
            &address_word(wallet),
            &[0u8; 32],
        ]);
        let inner = self.key.sign_hash(&eip712_digest(app_domain, &st))?;
        let len = u16::try_from(ORDER_TYPE.len()).map_err(|_| CoreError::Overflow("type string"))?;
        Ok(format!(
            "0x{}{}{}{}{}",
            hex_lower(&inner),
            hex_lower(app_domain),
            hex_lower(contents),
            hex_lower(ORDER_TYPE.as_bytes()),
            hex_lower(&len.to_be_bytes())
        ))
    }

    /// `POST /order`: the signed order's JSON body with L2 headers over exactly those bytes.
    pub fn post_order(
        &self,
        a: &OrderArgs<'_>,
        order_type: &str,
        post_only: bool,
        defer_exec: bool,
        timestamp_s: u64,
    ) -> CoreResult<(SignedOrder, SignedRequest)> {
        if !matches!(order_type, "GTC" | "GTD" | "FOK" | "FAK") {
            return Err(CoreError::InvalidArgument(format!("unknown order type {:?}", clip(order_type))));
        }
        if post_only && !matches!(order_type, "GTC" | "GTD") {
            return Err(CoreError::InvalidArgument("post-only needs GTC or GTD".into()));
        }
        let owner = self
            .creds
            .as_ref()
            .map(|c| c.key.clone())
            .ok_or_else(|| CoreError::Credential("no polymarket api credentials set".into()))?;
        let o = self.order(a)?;
        let body = o.body(&owner, order_type, post_only, defer_exec).into_bytes();
        let mut headers = self.l2_headers(timestamp_s, "POST", "/order", &body)?;
        headers.insert(0, ("Content-Type".into(), "application/json".into()));
        Ok((
            o,
            SignedRequest {
                method: method("POST")?,
                path: path("/order")?.to_owned(),
                query: String::new(),
                body,
                headers,
            },
        ))
    }
}

impl std::fmt::Debug for PolymarketSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PolymarketSigner(address={}, chain_id={})", self.address, self.chain_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_amounts() {
        // ../shared/venues/polymarket.md §4 worked examples
        assert_eq!(limit_amounts(Side::Buy, "0.52", "100", "0.01").unwrap(), (52_000_000, 100_000_000));
        assert_eq!(limit_amounts(Side::Sell, "0.52", "100", "0.01").unwrap(), (100_000_000, 52_000_000));
        assert_eq!(limit_amounts(Side::Buy, "0.123", "33.333", "0.001").unwrap(), (4_099_590, 33_330_000));
        assert!(limit_amounts(Side::Buy, "0.525", "1", "0.01").is_err());
        assert!(limit_amounts(Side::Buy, "0.99", "1", "0.01").is_ok());
        assert!(limit_amounts(Side::Buy, "1", "1", "0.01").is_err());
        assert!(limit_amounts(Side::Buy, "0", "1", "0.01").is_err());
        assert!(limit_amounts(Side::Buy, "0.5", "0.001", "0.01").is_err());
        assert!(limit_amounts(Side::Buy, "0.5", "1", "0.02").is_err());
    }

    #[test]
    fn exchange_v3_domain() {
        // version 3 signs for ExchangeV3 whatever neg risk says; version 2 for the market's V2 exchange
        let s = PolymarketSigner::new(&"11".repeat(32), 137, SignatureType::Eoa, None).unwrap();
        let args = |version: u8, neg_risk: bool| OrderArgs {
            token_id: "256",
            price: "0.5",
            size: "10",
            side: Side::Buy,
            tick_size: "0.01",
            neg_risk,
            salt: 7,
            timestamp_ms: 1_000,
            expiration: 0,
            metadata: None,
            builder: None,
            version,
            nonce: 0,
            fee_rate_bps: 0,
        };
        let v3 = s.order(&args(3, false)).unwrap();
        assert_eq!(v3.version, 3);
        assert_eq!(v3.hash, s.order(&args(3, true)).unwrap().hash);
        assert_ne!(v3.hash, s.order(&args(2, false)).unwrap().hash);
        assert_ne!(v3.hash, s.order(&args(2, true)).unwrap().hash);
        assert!(s.order(&args(4, false)).is_err());
    }

    #[test]
    fn l2_vector() {
        // ../shared/venues/polymarket.md §2.2
        let mut s = PolymarketSigner::new(&"11".repeat(32), 137, SignatureType::Eoa, None).unwrap();
        s.set_api_creds("key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "pass").unwrap();
        let sig = s.l2_signature(1_000_000, "test-sign", "/orders", br#"{"hash": "0x123"}"#).unwrap();
        assert_eq!(sig, "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc=");
    }
}
