//! CRC32 book checksums: OKX (legacy, signed) and Kraken (v1 and v2).

use super::Book;
use crate::error::CoreResult;

/// OKX `books` checksum: interleave the first 25 levels as `bidPx:bidSz:askPx:askSz:...` using the
/// exact strings received (the longer side's remainder appended), CRC32 as a signed 32-bit integer.
pub fn okx_checksum(bids: &[(&str, &str)], asks: &[(&str, &str)]) -> i32 {
    let mut s = String::with_capacity(25 * 4 * 12);
    for i in 0..25 {
        for lv in [bids.get(i), asks.get(i)].into_iter().flatten() {
            if !s.is_empty() {
                s.push(':');
            }
            s.push_str(lv.0);
            s.push(':');
            s.push_str(lv.1);
        }
    }
    crc32fast::hash(s.as_bytes()) as i32
}

fn push_kraken(out: &mut String, s: &str) {
    let start = out.len();
    for c in s.chars() {
        if c == '.' {
            continue;
        }
        if c == '0' && out.len() == start {
            continue;
        }
        out.push(c);
    }
}

/// Kraken book checksum over the top 10 levels: asks low to high, then bids high to low; for each
/// level the price then the quantity, formatted at the pair's precision with the `.` removed and
/// leading zeros stripped; CRC32 (unsigned).
pub fn kraken_checksum(asks: &[(&str, &str)], bids: &[(&str, &str)]) -> u32 {
    let mut s = String::with_capacity(20 * 24);
    for (p, q) in asks.iter().take(10).chain(bids.iter().take(10)) {
        push_kraken(&mut s, p);
        push_kraken(&mut s, q);
    }
    crc32fast::hash(s.as_bytes())
}

impl Book {
    /// Kraken checksum of this book's top 10 levels, with prices and quantities formatted at the
    /// pair's `price_decimals` / `qty_decimals` (v2 `instrument` channel: price_precision, qty_precision).
    pub fn kraken_checksum(&self, price_decimals: u32, qty_decimals: u32) -> CoreResult<u32> {
        let mut asks = Vec::with_capacity(10);
        for (p, q) in self.asks.iter().take(10) {
            asks.push((self.format_price_at(p, price_decimals)?, self.format_qty_at(q, qty_decimals)?));
        }
        let mut bids = Vec::with_capacity(10);
        for (p, q) in self.bids.iter().take(10) {
            bids.push((self.format_price_at(p, price_decimals)?, self.format_qty_at(q, qty_decimals)?));
        }
        let a: Vec<(&str, &str)> = asks.iter().map(|(p, q)| (p.as_str(), q.as_str())).collect();
        let b: Vec<(&str, &str)> = bids.iter().map(|(p, q)| (p.as_str(), q.as_str())).collect();
        Ok(kraken_checksum(&a, &b))
    }
}
