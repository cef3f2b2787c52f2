//! Polygon transactions the Polymarket wallet sends itself: the approvals trading needs (ERC-20 `approve`,
//! ERC-1155 `setApprovalForAll`) and wrapping USDC.e into pUSD. Legacy EIP-155 transactions (RLP of
//! nonce, gasPrice, gas, to, value, data, then v = recovery id + 2 * chainId + 35, r, s), signed inside
//! the signer so the key never leaves it. No I/O here: the caller asks the chain for the nonce and the
//! gas price and sends the raw transaction.

use super::crypto::hex_lower;
use super::eth::{keccak, parse_address};
use super::polymarket::PolymarketSigner;
use crate::error::{CoreError, CoreResult};

fn rlp_bytes(out: &mut Vec<u8>, b: &[u8]) {
    if b.len() == 1 && b[0] < 0x80 {
        out.push(b[0]);
    } else {
        rlp_len(out, b.len(), 0x80);
        out.extend_from_slice(b);
    }
}

fn rlp_len(out: &mut Vec<u8>, len: usize, offset: u8) {
    if len <= 55 {
        out.push(offset + len as u8);
    } else {
        let be = len.to_be_bytes();
        let skip = be.iter().take_while(|&&x| x == 0).count();
        out.push(offset + 55 + (be.len() - skip) as u8);
        out.extend_from_slice(&be[skip..]);
    }
}

/// A big-endian integer without leading zero bytes (RLP's integer form; zero is the empty string).
fn minimal(be: &[u8]) -> &[u8] {
    let skip = be.iter().take_while(|&&x| x == 0).count();
    &be[skip..]
}

fn rlp_list(items: &[&[u8]]) -> Vec<u8> {
    let mut payload = Vec::new();
    for i in items {
        rlp_bytes(&mut payload, i);
    }
    let mut out = Vec::with_capacity(payload.len() + 9);
    rlp_len(&mut out, payload.len(), 0xc0);
    out.extend_from_slice(&payload);
    out
}

/// What a transaction does (everything but the signature).
#[derive(Clone, Debug)]
pub struct TxArgs<'a> {
    pub nonce: u64,
    pub gas_price: u128,
    pub gas: u64,
    pub to: &'a str,
    pub value: u128,
    pub data: &'a str,
}

impl PolymarketSigner {
    /// A signed legacy EIP-155 transaction from the signing EOA: (raw transaction, transaction hash), both
    /// 0x hex.
    pub fn sign_transaction(&self, t: &TxArgs<'_>) -> CoreResult<(String, String)> {
        let to = parse_address(t.to)?;
        let h = t.data.strip_prefix("0x").unwrap_or(t.data);
        if h.len() % 2 != 0 || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(CoreError::InvalidArgument("transaction data must be hex".into()));
        }
        let data: Vec<u8> =
            (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap_or(0)).collect();
        let (nonce, price, gas) = (t.nonce.to_be_bytes(), t.gas_price.to_be_bytes(), t.gas.to_be_bytes());
        let (value, chain) = (t.value.to_be_bytes(), self.chain_id().to_be_bytes());
        let fields: [&[u8]; 6] = [minimal(&nonce), minimal(&price), minimal(&gas), &to, minimal(&value), &data];
        let unsigned = rlp_list(&[&fields[..], &[minimal(&chain), &[], &[]]].concat());
        let sig = self.sign_digest(&keccak(&[&unsigned]))?;
        let v = u128::from(sig[64] - 27) + 35 + 2 * u128::from(self.chain_id());
        let v = v.to_be_bytes();
        let raw = rlp_list(&[&fields[..], &[minimal(&v), minimal(&sig[..32]), minimal(&sig[32..64])]].concat());
        let hash = keccak(&[&raw]);
        Ok((format!("0x{}", hex_lower(&raw)), format!("0x{}", hex_lower(&hash))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::polymarket::SignatureType;

    #[test]
    fn eip155_example() {
        // The EIP-155 specification's example: nonce 9, gas price 20 gwei, gas 21000, to 0x3535..35,
        // 1 ether, chain 1, key 0x4646..46.
        let s = PolymarketSigner::new(&"46".repeat(32), 1, SignatureType::Eoa, None).unwrap();
        let t = TxArgs {
            nonce: 9,
            gas_price: 20_000_000_000,
            gas: 21_000,
            to: "0x3535353535353535353535353535353535353535",
            value: 1_000_000_000_000_000_000,
            data: "",
        };
        let (raw, _) = s.sign_transaction(&t).unwrap();
        assert_eq!(
            raw,
            "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a0\
28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
        );
    }
}
