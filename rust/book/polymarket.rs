//! Polymarket market-channel messages (CLOB V2), parsed from raw bytes and applied in one call.
//!
//! `book` (on subscribe, as an array of them, and after trades):
//! `{"event_type":"book","asset_id":"..","market":"0x..","bids":[{"price":"0.48","size":"30"}],"asks":[..],
//! "timestamp":"1757908892351","hash":".."}`; REST `GET /book` answers the same object without `event_type`.
//! `price_change`: `{"event_type":"price_change","market":"0x..","price_changes":[{"asset_id":"..",
//! "price":"0.5","size":"200","side":"BUY","hash":"..","best_bid":"0.5","best_ask":"0.52"}],"timestamp":".."}`,
//! where `size` is the level's new size (0 removes it). One message may carry both tokens of a market;
//! only the named token's levels are applied (the others are checked for structure only).

use super::scan::{ScanResult, Scanner};
use super::Book;
use crate::error::{clip, CoreError, CoreResult};
use crate::types::{InstrumentSpec, Side};

fn malformed(detail: impl Into<String>) -> CoreError {
    CoreError::Parse { venue: "polymarket", detail: detail.into() }
}

/// The venue's best prices after a `price_change` (those of its last change for the token), in price
/// units; `None` for an empty side (the venue says `"0"` for no bid and `"1"` for no ask).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VenueTop {
    pub bid: Option<i64>,
    pub ask: Option<i64>,
}

/// What `apply_polymarket_changes` did: how many level changes it applied, and the venue's top of book
/// when the token's last change stated both `best_bid` and `best_ask`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub applied: usize,
    pub top: Option<VenueTop>,
}

fn units(spec: &InstrumentSpec, p: &str, q: &str) -> ScanResult<(i64, i64)> {
    let price = spec.price_units(p).map_err(|e| e.to_string())?;
    let qty = spec.qty_units(q).map_err(|e| e.to_string())?;
    if price < 0 || qty < 0 {
        return Err(format!("negative level {p} {q}"));
    }
    Ok((price, qty))
}

fn side_of(s: &str) -> ScanResult<Side> {
    match s {
        "BUY" | "buy" => Ok(Side::Buy),
        "SELL" | "sell" => Ok(Side::Sell),
        _ => Err(format!("unknown side {:?}", clip(s))),
    }
}

/// `[{"price":"0.48","size":"30"}, ...]` (or `null`: no levels) into `out`, converted.
fn levels(s: &mut Scanner<'_>, side: Side, spec: &InstrumentSpec, out: &mut Vec<(Side, i64, i64)>) -> ScanResult<()> {
    if s.null()? {
        return Ok(());
    }
    s.array(|s| {
        let (mut p, mut q) = (None, None);
        s.object(|s, k| match k {
            "price" => s.numeric().map(|v| p = Some(v)),
            "size" => s.numeric().map(|v| q = Some(v)),
            _ => s.skip_value(1),
        })?;
        let (Some(p), Some(q)) = (p, q) else { return Err("level without price or size".into()) };
        let (price, qty) = units(spec, p, q)?;
        out.push((side, price, qty));
        Ok(())
    })
}

/// The message's top-level objects (one object, or an array of them), each walked by `f`.
fn each_object<'a>(s: &mut Scanner<'a>, mut f: impl FnMut(&mut Scanner<'a>) -> ScanResult<()>) -> ScanResult<()> {
    if s.peek() == Some(b'[') {
        s.array(|s| f(s))?;
    } else {
        f(s)?;
    }
    s.end()
}

/// One `price_change` entry, its numbers still text.
#[derive(Default)]
struct Change<'a> {
    asset: Option<&'a str>,
    price: Option<&'a str>,
    size: Option<&'a str>,
    side: Option<&'a str>,
    best_bid: Option<&'a str>,
    best_ask: Option<&'a str>,
}

impl<'a> Change<'a> {
    fn read(s: &mut Scanner<'a>) -> ScanResult<Change<'a>> {
        let mut c = Change::default();
        s.object(|s, k| {
            let slot = match k {
                "asset_id" => &mut c.asset,
                "price" => &mut c.price,
                "size" => &mut c.size,
                "side" => &mut c.side,
                "best_bid" => &mut c.best_bid,
                "best_ask" => &mut c.best_ask,
                _ => return s.skip_value(1),
            };
            *slot = Some(s.numeric()?);
            Ok(())
        })?;
        Ok(c)
    }

    fn level(&self, spec: &InstrumentSpec) -> ScanResult<(Side, i64, i64)> {
        let (Some(p), Some(q), Some(side)) = (self.price, self.size, self.side) else {
            return Err("price change without price, size or side".into());
        };
        let (price, qty) = units(spec, p, q)?;
        Ok((side_of(side)?, price, qty))
    }

    fn top(&self, spec: &InstrumentSpec) -> ScanResult<Option<VenueTop>> {
        let (Some(bid), Some(ask)) = (self.best_bid, self.best_ask) else { return Ok(None) };
        let price = |t: &str| spec.price_units(t).map_err(|e| e.to_string());
        let (bid, ask, one) = (price(bid)?, price(ask)?, price("1")?);
        Ok(Some(VenueTop { bid: (bid > 0).then_some(bid), ask: (ask < one).then_some(ask) }))
    }
}

impl Book {
    /// Scan a `book` message (one event, an array of them, or a REST `/book` answer) for `asset_id`'s
    /// book into the scratch buffer: Some(timestamp) if there is one (the last wins). Nothing changes.
    fn scan_polymarket_book(&mut self, raw: &[u8], asset_id: &str) -> CoreResult<Option<u64>> {
        let spec = &self.spec;
        let scratch = &mut self.scratch;
        scratch.clear();
        let mut found = None;
        let mut s = Scanner::new(raw);
        each_object(&mut s, |s| {
            let start = scratch.len();
            let (mut asset, mut kind, mut ts) = (None, None, None);
            s.object(|s, k| match k {
                "asset_id" => s.numeric().map(|v| asset = Some(v)),
                "event_type" => s.plain_string().map(|v| kind = Some(v)),
                "timestamp" => s.numeric().map(|v| ts = Some(v)),
                "bids" => levels(s, Side::Buy, spec, scratch),
                "asks" => levels(s, Side::Sell, spec, scratch),
                _ => s.skip_value(1),
            })?;
            if asset != Some(asset_id) || kind.is_some_and(|k| k != "book") {
                scratch.truncate(start);
                return Ok(());
            }
            let ts = match ts {
                Some(t) => t.parse::<u64>().map_err(|_| format!("timestamp {:?} is not an integer", clip(t)))?,
                None => 0,
            };
            scratch.drain(..start); // an earlier book of the same token is superseded
            found = Some(ts);
            Ok(())
        })
        .map_err(malformed)?;
        Ok(found)
    }

    /// Parse a Polymarket `book` message (a market-channel event, the subscription's array of them, or
    /// a REST `GET /book` answer) and replace the book with `asset_id`'s levels. Returns the book's
    /// timestamp (ms; it becomes the book's update id), or `None` when the message holds no book of
    /// that token (nothing changes). A malformed message errors with `Parse` and changes nothing.
    pub fn apply_polymarket_book(&mut self, raw: &[u8], asset_id: &str) -> CoreResult<Option<u64>> {
        let Some(ts) = self.scan_polymarket_book(raw, asset_id)? else { return Ok(None) };
        self.bids.clear();
        self.asks.clear();
        for i in 0..self.scratch.len() {
            let (side, p, q) = self.scratch[i];
            self.ladder_mut(side).set(p, q);
        }
        self.seq.on_snapshot(ts);
        Ok(Some(ts))
    }

    /// Parse a Polymarket `price_change` message and set `asset_id`'s changed levels (absolute sizes,
    /// 0 removes), with no sequence rule (the venue's messages carry none). Changes of other tokens
    /// are skipped. A malformed message errors with `Parse` and changes nothing.
    pub fn apply_polymarket_changes(&mut self, raw: &[u8], asset_id: &str) -> CoreResult<Changes> {
        let spec = &self.spec;
        let scratch = &mut self.scratch;
        scratch.clear();
        let mut top = None;
        let mut s = Scanner::new(raw);
        each_object(&mut s, |s| {
            s.object(|s, k| {
                if k != "price_changes" {
                    return s.skip_value(1);
                }
                s.array(|s| {
                    let c = Change::read(s)?;
                    if c.asset == Some(asset_id) {
                        scratch.push(c.level(spec)?);
                        top = c.top(spec)?;
                    }
                    Ok(())
                })
            })
        })
        .map_err(malformed)?;
        for i in 0..self.scratch.len() {
            let (side, p, q) = self.scratch[i];
            self.ladder_mut(side).set(p, q);
        }
        Ok(Changes { applied: self.scratch.len(), top })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::SeqState;

    const BOOK: &str = include_str!("../../tests/venues/polymarket/fixtures/book.json");
    const SUBSCRIBE: &str = include_str!("../../tests/venues/polymarket/fixtures/book_subscribe.json");
    const REST: &str = include_str!("../../tests/venues/polymarket/fixtures/rest_book.json");
    const CHANGE: &str = include_str!("../../tests/venues/polymarket/fixtures/price_change.json");
    const YES: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
    const NO: &str = "52114319501245915516055106046884209969926127482827954674443846427813813222426";

    fn book() -> Book {
        // the connector's spec: tick 0.01 as the price unit, micro-shares as the quantity unit
        Book::new(InstrumentSpec::new("0.01", "0.01", None, None, None, Some("0.01"), Some("0.000001")).unwrap())
    }

    #[test]
    fn book_event_replaces_the_book() {
        let mut b = book();
        b.apply_snapshot(&[(10, 1)], &[(90, 1)], 1).unwrap();
        assert_eq!(b.apply_polymarket_book(BOOK.as_bytes(), YES).unwrap(), Some(1_757_908_892_351));
        assert_eq!(b.depth(Side::Buy, 5), vec![(48, 30_000_000), (47, 35_500_000), (46, 120_000_000)]);
        assert_eq!(b.depth(Side::Sell, 5), vec![(51, 44_000_000), (52, 12_250_000), (53, 200_000_000)]);
        assert_eq!(b.seq.state, SeqState::Valid);
        assert_eq!(b.seq.last_id, 1_757_908_892_351);
    }

    #[test]
    fn book_of_another_token_changes_nothing() {
        let mut b = book();
        b.apply_snapshot(&[(10, 1)], &[(90, 1)], 1).unwrap();
        assert_eq!(b.apply_polymarket_book(BOOK.as_bytes(), NO).unwrap(), None);
        assert_eq!(b.best_bid(), Some((10, 1)));
    }

    #[test]
    fn subscription_array_and_rest_answer() {
        let mut yes = book();
        let mut no = book();
        assert!(yes.apply_polymarket_book(SUBSCRIBE.as_bytes(), YES).unwrap().is_some());
        assert!(no.apply_polymarket_book(SUBSCRIBE.as_bytes(), NO).unwrap().is_some());
        assert_eq!((yes.best_bid(), yes.best_ask()), (Some((48, 30_000_000)), Some((52, 25_000_000))));
        assert_eq!((no.best_bid(), no.best_ask()), (Some((48, 25_000_000)), Some((52, 30_000_000))));
        assert_eq!(yes.apply_polymarket_book(REST.as_bytes(), YES).unwrap(), Some(1_757_908_892_400));
        assert_eq!(yes.depth(Side::Buy, 5), vec![(48, 30_000_000), (47, 10_000_000)]);
    }

    #[test]
    fn price_change_sets_only_the_tokens_levels() {
        let mut b = book();
        b.apply_polymarket_book(BOOK.as_bytes(), YES).unwrap();
        let c = b.apply_polymarket_changes(CHANGE.as_bytes(), YES).unwrap();
        assert_eq!(c, Changes { applied: 2, top: Some(VenueTop { bid: Some(49), ask: Some(51) }) });
        assert_eq!(b.best_bid(), Some((49, 50_000_000)));
        assert_eq!(b.depth(Side::Sell, 5), vec![(51, 44_000_000), (53, 200_000_000)]);
        let mut other = book();
        let c = other.apply_polymarket_changes(CHANGE.as_bytes(), "123").unwrap();
        assert_eq!(c, Changes::default());
    }

    #[test]
    fn empty_sides_and_missing_tops() {
        let mut b = book();
        let raw = br#"{"price_changes":[{"asset_id":"1","price":0.5,"size":"3","side":"SELL","best_bid":"0","best_ask":"1"}]}"#;
        let c = b.apply_polymarket_changes(raw, "1").unwrap();
        assert_eq!(c.top, Some(VenueTop { bid: None, ask: None }));
        assert_eq!(b.best_ask(), Some((50, 3_000_000)));
        let raw = br#"{"price_changes":[{"asset_id":"1","price":"0.4","size":"3","side":"BUY"}]}"#;
        assert_eq!(b.apply_polymarket_changes(raw, "1").unwrap().top, None);
        let raw = br#"{"event_type":"book","asset_id":"1","bids":null,"asks":[],"timestamp":"7"}"#;
        assert_eq!(b.apply_polymarket_book(raw, "1").unwrap(), Some(7));
        assert_eq!((b.best_bid(), b.best_ask()), (None, None));
    }

    #[test]
    fn malformed_messages_change_nothing() {
        let bad_books: [&[u8]; 7] = [
            br#"{"asset_id":"1","bids":[{"price":"0.481","size":"1"}],"asks":[]}"#, // off the price unit
            br#"{"asset_id":"1","bids":[{"price":"0.48"}],"asks":[]}"#,
            br#"{"asset_id":"1","bids":[{"price":"0.48","size":"-1"}],"asks":[]}"#,
            br#"{"asset_id":"1","bids":[{"price":"x","size":"1"}],"asks":[]}"#,
            br#"{"asset_id":"1","bids":[],"asks":[],"timestamp":"1.5"}"#,
            br#"{"asset_id":"1","bids":[],"asks":[]"#,
            br#"[{"asset_id":"1","bids":[],"asks":[]}] x"#,
        ];
        for raw in bad_books {
            let mut b = book();
            b.apply_snapshot(&[(10, 1)], &[(90, 1)], 1).unwrap();
            let e = b.apply_polymarket_book(raw, "1").unwrap_err();
            assert!(matches!(e, CoreError::Parse { venue: "polymarket", .. }), "{e}");
            assert_eq!((b.best_bid(), b.seq.last_id), (Some((10, 1)), 1));
        }
        let bad_changes: [&[u8]; 4] = [
            br#"{"price_changes":[{"asset_id":"1","price":"0.5","size":"1","side":"HOLD"}]}"#,
            br#"{"price_changes":[{"asset_id":"1","price":"0.5","size":"1"}]}"#,
            br#"{"price_changes":[{"asset_id":"1","price":"0.4","size":"1","side":"BUY"},{"asset_id":"1","price":"0.5","size":"x","side":"BUY"}]}"#,
            br#"{"price_changes":[{"asset_id":"1","price":"0.5","size":"1","side":"BUY","best_bid":"0.505","best_ask":"1"}]}"#,
        ];
        for raw in bad_changes {
            let mut b = book();
            b.apply_snapshot(&[(10, 1)], &[(90, 1)], 1).unwrap();
            let e = b.apply_polymarket_changes(raw, "1").unwrap_err();
            assert!(matches!(e, CoreError::Parse { venue: "polymarket", .. }), "{e}");
            assert_eq!((b.best_bid(), b.best_ask()), (Some((10, 1)), Some((90, 1))));
        }
    }
}
