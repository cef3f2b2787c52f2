//! Binance depth messages, parsed from raw bytes and applied in one call.
//!
//! Diff depth (`<symbol>@depth[@100ms]`, spot and USD-M futures, raw or combined-stream envelope):
//! `{"e":"depthUpdate","E":..,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[..]}`, futures
//! add `"pu"`. REST snapshot: `{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[..]}`.

use super::scan::{ScanResult, Scanner};
use super::{Book, Verdict};
use crate::error::{CoreError, CoreResult};
use crate::types::Side;

fn malformed(detail: impl Into<String>) -> CoreError {
    CoreError::Parse { venue: "binance", detail: detail.into() }
}

/// The ids of a depth message; its levels go into the book's scratch buffer, already converted.
#[derive(Default)]
struct Ids {
    first: Option<u64>,
    last: Option<u64>,
    prev: Option<u64>,
    snapshot_id: Option<u64>,
    has_bids: bool,
    has_asks: bool,
}

impl Book {
    /// Scan a depth message (diff or snapshot, raw or in a combined-stream envelope) into `ids` and
    /// the scratch buffer. Nothing in the book changes here.
    fn scan_binance(&mut self, raw: &[u8]) -> CoreResult<Ids> {
        let mut ids = Ids::default();
        let spec = &self.spec;
        let scratch = &mut self.scratch;
        scratch.clear();
        let mut s = Scanner::new(raw);
        fn body<'a>(
            s: &mut Scanner<'a>,
            key: &'a str,
            ids: &mut Ids,
            spec: &crate::types::InstrumentSpec,
            scratch: &mut Vec<(Side, i64, i64)>,
        ) -> ScanResult<()> {
            let side = match key {
                "U" => return s.uint().map(|v| ids.first = Some(v)),
                "u" => return s.uint().map(|v| ids.last = Some(v)),
                "pu" => return s.uint().map(|v| ids.prev = Some(v)),
                "lastUpdateId" => return s.uint().map(|v| ids.snapshot_id = Some(v)),
                "data" => return s.object(|s, k| body(s, k, ids, spec, scratch)),
                "b" | "bids" => {
                    ids.has_bids = true;
                    Side::Buy
                }
                "a" | "asks" => {
                    ids.has_asks = true;
                    Side::Sell
                }
                _ => return s.skip_value(1),
            };
            s.string_pairs(|p, q| {
                let price = spec.price_units(p).map_err(|e| e.to_string())?;
                let qty = spec.qty_units(q).map_err(|e| e.to_string())?;
                if price < 0 || qty < 0 {
                    return Err(format!("negative level {p} {q}"));
                }
                scratch.push((side, price, qty));
                Ok(())
            })
        }
        s.object(|s, k| body(s, k, &mut ids, spec, scratch)).and_then(|()| s.end()).map_err(malformed)?;
        Ok(ids)
    }

    fn apply_scratch(&mut self) {
        for i in 0..self.scratch.len() {
            let (side, p, q) = self.scratch[i];
            self.ladder_mut(side).set(p, q);
        }
    }

    /// Parse a Binance diff-depth event (spot or USD-M futures, raw or combined stream) and apply it
    /// under Binance's sync rule. Returns `true` if applied, `false` if it was stale (already in the
    /// book). A gap marks the book invalid and errors with `SequenceGap`; a malformed message errors
    /// with `Parse` and changes nothing.
    pub fn apply_binance_depth(&mut self, raw: &[u8]) -> CoreResult<bool> {
        let ids = self.scan_binance(raw)?;
        let (Some(first), Some(last)) = (ids.first, ids.last) else {
            return Err(malformed("depth update without U/u"));
        };
        let verdict = match ids.prev {
            Some(prev) => self.seq.check_binance_futures(first, last, prev)?,
            None => self.seq.check_binance_spot(first, last)?,
        };
        if verdict == Verdict::Stale {
            return Ok(false);
        }
        self.apply_scratch();
        self.seq.applied(last);
        Ok(true)
    }

    /// Parse a Binance REST depth snapshot (`GET /api/v3/depth`, `/fapi/v1/depth`) and replace the book.
    /// Returns the snapshot's `lastUpdateId`.
    pub fn apply_binance_snapshot(&mut self, raw: &[u8]) -> CoreResult<u64> {
        let ids = self.scan_binance(raw)?;
        let (Some(id), true, true) = (ids.snapshot_id, ids.has_bids, ids.has_asks) else {
            return Err(malformed("snapshot without lastUpdateId/bids/asks"));
        };
        self.bids.clear();
        self.asks.clear();
        self.apply_scratch();
        self.seq.on_snapshot(id);
        Ok(id)
    }
}
