//! Binance depth messages, parsed from raw bytes and applied in one call.
//!
//! Diff depth (`<symbol>@depth[@100ms]`, spot and USD-M futures, raw or combined-stream envelope):
//! `{"e":"depthUpdate","E":..,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[..]}`, futures
//! add `"pu"`. REST snapshot: `{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[..]}`.

use serde::Deserialize;

use super::{Book, Verdict};
use crate::error::{CoreError, CoreResult};
use crate::types::Side;

type Levels<'a> = Vec<(&'a str, &'a str)>;

#[derive(Deserialize)]
struct Msg<'a> {
    #[serde(rename = "U")]
    first: Option<u64>,
    #[serde(rename = "u")]
    last: Option<u64>,
    pu: Option<u64>,
    #[serde(borrow, default)]
    b: Option<Levels<'a>>,
    #[serde(borrow, default)]
    a: Option<Levels<'a>>,
    #[serde(borrow, default)]
    data: Option<Box<Msg<'a>>>,
    #[serde(rename = "lastUpdateId")]
    last_update_id: Option<u64>,
    #[serde(borrow, default)]
    bids: Option<Levels<'a>>,
    #[serde(borrow, default)]
    asks: Option<Levels<'a>>,
}

fn malformed(detail: impl Into<String>) -> CoreError {
    CoreError::Parse { venue: "binance", detail: detail.into() }
}

fn parse(raw: &[u8]) -> CoreResult<Msg<'_>> {
    let msg: Msg<'_> = serde_json::from_slice(raw).map_err(|e| malformed(e.to_string()))?;
    Ok(match msg.data {
        Some(inner) => *inner,
        None => msg,
    })
}

impl Book {
    fn convert_levels(&mut self, side: Side, levels: &[(&str, &str)]) -> CoreResult<()> {
        for (p, q) in levels {
            let price = self.spec.price_units(p).map_err(|e| malformed(e.to_string()))?;
            let qty = self.spec.qty_units(q).map_err(|e| malformed(e.to_string()))?;
            if qty < 0 || price < 0 {
                return Err(malformed(format!("negative level {p} {q}")));
            }
            self.scratch.push((side, price, qty));
        }
        Ok(())
    }

    /// Parse a Binance diff-depth event (spot or USD-M futures, raw or combined stream) and apply it
    /// under Binance's sync rule. Returns `true` if applied, `false` if it was stale (already in the
    /// book). A gap marks the book invalid and errors with `SequenceGap`; a malformed message errors
    /// with `Parse` and changes nothing.
    pub fn apply_binance_depth(&mut self, raw: &[u8]) -> CoreResult<bool> {
        let msg = parse(raw)?;
        let (Some(first), Some(last)) = (msg.first, msg.last) else {
            return Err(malformed("depth update without U/u"));
        };
        let verdict = match msg.pu {
            Some(prev) => self.seq.check_binance_futures(first, last, prev)?,
            None => self.seq.check_binance_spot(first, last)?,
        };
        if verdict == Verdict::Stale {
            return Ok(false);
        }
        self.scratch.clear();
        self.convert_levels(Side::Buy, msg.b.as_deref().unwrap_or_default())?;
        self.convert_levels(Side::Sell, msg.a.as_deref().unwrap_or_default())?;
        for i in 0..self.scratch.len() {
            let (side, p, q) = self.scratch[i];
            self.ladder_mut(side).set(p, q);
        }
        self.seq.applied(last);
        Ok(true)
    }

    /// Parse a Binance REST depth snapshot (`GET /api/v3/depth`, `/fapi/v1/depth`) and replace the book.
    /// Returns the snapshot's `lastUpdateId`.
    pub fn apply_binance_snapshot(&mut self, raw: &[u8]) -> CoreResult<u64> {
        let msg = parse(raw)?;
        let (Some(id), Some(bids), Some(asks)) = (msg.last_update_id, msg.bids, msg.asks) else {
            return Err(malformed("snapshot without lastUpdateId/bids/asks"));
        };
        self.scratch.clear();
        self.convert_levels(Side::Buy, &bids)?;
        self.convert_levels(Side::Sell, &asks)?;
        self.bids.clear();
        self.asks.clear();
        for i in 0..self.scratch.len() {
            let (side, p, q) = self.scratch[i];
            self.ladder_mut(side).set(p, q);
        }
        self.seq.on_snapshot(id);
        Ok(id)
    }
}
