//! Coinbase Advanced Trade `level2` messages, parsed from raw bytes and applied in one call.
//!
//! `{"channel":"l2_data","client_id":"","timestamp":"..","sequence_num":7,"events":[{"type":"snapshot"|
//! "update","product_id":"BTC-USD","updates":[{"side":"bid"|"offer","event_time":"..","price_level":
//! "59999.99","new_quantity":"0.021"}]}]}`: `new_quantity` is the level's new size (0 removes it). A
//! snapshot replaces the book; `sequence_num` counts every message of the connection (all channels), so
//! the connector checks it and this parser only returns it.

use super::scan::{ScanResult, Scanner};
use super::Book;
use crate::error::{clip, CoreError, CoreResult};
use crate::types::{InstrumentSpec, Side};

fn malformed(detail: impl Into<String>) -> CoreError {
    CoreError::Parse { venue: "coinbase", detail: detail.into() }
}

/// What `apply_coinbase_level2` did for the product: the message's sequence number, whether it was a
/// snapshot, and how many level changes it applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Level2 {
    pub sequence: u64,
    pub snapshot: bool,
    pub applied: usize,
}

/// One `updates` entry into `out`, converted.
fn update(s: &mut Scanner<'_>, spec: &InstrumentSpec, out: &mut Vec<(Side, i64, i64)>) -> ScanResult<()> {
    let (mut side, mut price, mut qty) = (None, None, None);
    s.object(|s, k| match k {
        "side" => s.plain_string().map(|v| side = Some(v)),
        "price_level" => s.numeric().map(|v| price = Some(v)),
        "new_quantity" => s.numeric().map(|v| qty = Some(v)),
        _ => s.skip_value(1),
    })?;
    let (Some(side), Some(p), Some(q)) = (side, price, qty) else {
        return Err("level2 update without side, price_level or new_quantity".into());
    };
    let side = match side {
        "bid" => Side::Buy,
        "offer" | "ask" => Side::Sell,
        other => return Err(format!("unknown side {:?}", clip(other))),
    };
    let price = spec.price_units(p).map_err(|e| e.to_string())?;
    let qty = spec.qty_units(q).map_err(|e| e.to_string())?;
    if price <= 0 || qty < 0 {
        return Err(format!("bad level {p} {q}"));
    }
    out.push((side, price, qty));
    Ok(())
}

impl Book {
    /// Parse a Coinbase `l2_data` message and apply `product_id`'s events: a snapshot replaces the book
    /// (VALID at the message's `sequence_num`), updates set levels. Other products' events are checked for
    /// structure only. `None` when the message is not `l2_data` or holds nothing of the product (nothing
    /// changes). A malformed message errors with `Parse`, an update before the first snapshot with
    /// `BookNotReady` (or `SequenceGap` after a gap); neither changes anything.
    pub fn apply_coinbase_level2(&mut self, raw: &[u8], product_id: &str) -> CoreResult<Option<Level2>> {
        let spec = &self.spec;
        let scratch = &mut self.scratch;
        scratch.clear();
        let (mut channel, mut sequence, mut found, mut snapshot) = (None, None, false, false);
        let mut s = Scanner::new(raw);
        s.object(|s, k| match k {
            "channel" => s.plain_string().map(|v| channel = Some(v)),
            "sequence_num" => s.uint().map(|v| sequence = Some(v)),
            "events" => s.array(|s| {
                let start = scratch.len();
                let (mut kind, mut product) = (None, None);
                s.object(|s, k| match k {
                    "type" => s.plain_string().map(|v| kind = Some(v)),
                    "product_id" => s.plain_string().map(|v| product = Some(v)),
                    "updates" => s.array(|s| update(s, spec, scratch)),
                    _ => s.skip_value(1),
                })?;
                if product != Some(product_id) {
                    scratch.truncate(start);
                    return Ok(());
                }
                found = true;
                if kind == Some("snapshot") {
                    scratch.drain(..start); // the snapshot supersedes what came before it
                    snapshot = true;
                }
                Ok(())
            }),
            _ => s.skip_value(1),
        })
        .and_then(|()| s.end())
        .map_err(malformed)?;
        if channel != Some("l2_data") || !found {
            return Ok(None);
        }
        let sequence = sequence.ok_or_else(|| malformed("l2_data without sequence_num"))?;
        if !snapshot {
            self.seq.ensure_valid()?; // updates before the snapshot (after a gap) are refused
        }
        if snapshot {
            self.bids.clear();
            self.asks.clear();
        }
        for i in 0..self.scratch.len() {
            let (side, p, q) = self.scratch[i];
            self.ladder_mut(side).set(p, q);
        }
        if snapshot {
            self.seq.on_snapshot(sequence);
        }
        Ok(Some(Level2 { sequence, snapshot, applied: self.scratch.len() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L2: &str = include_str!("../../tests/venues/coinbase/fixtures/l2_data.json");

    fn book() -> Book {
        Book::new(InstrumentSpec::new("0.01", "0.00000001", None, None, None, None, None).unwrap())
    }

    /// The fixture is an array of messages; each one as the socket delivers it.
    fn messages() -> Vec<String> {
        split::objects(L2)
    }

    mod split {
        /// A top-level JSON array's objects as text (a test helper: the crate has no JSON library).
        pub fn objects(text: &str) -> Vec<String> {
            let body = text.trim().trim_start_matches('[').trim_end_matches(']');
            let (mut out, mut depth, mut start, mut in_str, mut esc) = (Vec::new(), 0i32, None, false, false);
            for (i, c) in body.char_indices() {
                if in_str {
                    match (esc, c) {
                        (true, _) => esc = false,
                        (false, '\\') => esc = true,
                        (false, '"') => in_str = false,
                        _ => {}
                    }
                    continue;
                }
                match c {
                    '"' => in_str = true,
                    '{' => {
                        if depth == 0 {
                            start = Some(i);
                        }
                        depth += 1;
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            out.push(body[start.take().unwrap()..=i].to_owned());
                        }
                    }
                    _ => {}
                }
            }
            out
        }
    }

    #[test]
    fn snapshot_then_updates() {
        let msgs = messages();
        assert!(!msgs.is_empty());
        let mut b = book();
        let first = b.apply_coinbase_level2(msgs[0].as_bytes(), "BTC-USD").unwrap().unwrap();
        assert!(first.snapshot);
        assert!(first.applied > 0);
        assert_eq!(b.best_bid().unwrap().0, 5_999_999);
        assert!(b.best_ask().unwrap().0 > 5_999_999);
        assert_eq!(b.apply_coinbase_level2(msgs[0].as_bytes(), "ETH-USD").unwrap(), None);
    }

    #[test]
    fn update_sets_and_removes_levels() {
        let mut b = book();
        let snap = br#"{"channel":"l2_data","sequence_num":1,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[
            {"side":"bid","price_level":"100.00","new_quantity":"1"},{"side":"offer","price_level":"101.00","new_quantity":"2"}]}]}"#;
        b.apply_coinbase_level2(snap, "BTC-USD").unwrap();
        let upd = br#"{"channel":"l2_data","sequence_num":2,"events":[{"type":"update","product_id":"BTC-USD","updates":[
            {"side":"bid","price_level":"100.00","new_quantity":"0"},{"side":"bid","price_level":"99.50","new_quantity":"3"}]}]}"#;
        let r = b.apply_coinbase_level2(upd, "BTC-USD").unwrap().unwrap();
        assert_eq!(r, Level2 { sequence: 2, snapshot: false, applied: 2 });
        assert_eq!(b.best_bid(), Some((9_950, 300_000_000)));
        assert_eq!(b.best_ask(), Some((10_100, 200_000_000)));
    }

    #[test]
    fn malformed_changes_nothing() {
        let mut b = book();
        let snap =
            br#"{"channel":"l2_data","sequence_num":1,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[
            {"side":"bid","price_level":"100.00","new_quantity":"1"}]}]}"#;
        b.apply_coinbase_level2(snap, "BTC-USD").unwrap();
        for bad in [
            &br#"{"channel":"l2_data","sequence_num":2,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"sideways","price_level":"1","new_quantity":"1"}]}]}"#[..],
            br#"{"channel":"l2_data","sequence_num":2,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","price_level":"100.001","new_quantity":"1"}]}]}"#,
            br#"{"channel":"l2_data","events":[{"type":"update","product_id":"BTC-USD","updates":[]}]}"#,
            br#"{"channel":"l2_data","sequence_num":2,"events":[{"type":"update""#,
        ] {
            assert!(b.apply_coinbase_level2(bad, "BTC-USD").is_err(), "{}", String::from_utf8_lossy(bad));
            assert_eq!(b.best_bid(), Some((10_000, 100_000_000)));
        }
        let other = br#"{"channel":"market_trades","sequence_num":3,"events":[]}"#;
        assert_eq!(b.apply_coinbase_level2(other, "BTC-USD").unwrap(), None);
    }
}
