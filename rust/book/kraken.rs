//! Kraken WebSocket v2 `book` messages, parsed from raw bytes, applied and checksummed in one call.
//!
//! `{"channel":"book","type":"snapshot"|"update","data":[{"symbol":"BTC/USD","bids":[{"price":45283.5,
//! "qty":0.1}],"asks":[..],"checksum":3310070434,"timestamp":"2022-12-25T09:30:59.123456Z"}]}`: prices and
//! quantities are JSON numbers (read as their exact text, never as floats), qty 0 removes a level, a
//! snapshot replaces the book. After every message the book is cut to the subscribed depth (Kraken sends
//! no deletes for levels that fall out of scope) and its CRC32 over the top ten levels must equal the
//! message's `checksum` (kraken.md section 4); a mismatch leaves the book RESYNCING until a new snapshot.

use super::scan::{ScanResult, Scanner};
use super::Book;
use crate::error::{clip, CoreError, CoreResult};
use crate::types::{pow10, InstrumentSpec, Side};

fn malformed(detail: impl Into<String>) -> CoreError {
    CoreError::Parse { venue: "kraken", detail: detail.into() }
}

/// What `apply_kraken_book` did for the symbol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KrakenBook {
    /// The message was a snapshot (the book was replaced).
    pub snapshot: bool,
    /// Level changes applied (before the cut to depth).
    pub applied: usize,
    /// The entry's `timestamp` in ns since the epoch (0 when it has none).
    pub ts_event: i64,
    /// The book's checksum matched the message's; false: the book is now RESYNCING.
    pub checksum_ok: bool,
}

/// One entry of `data`, as parsed (levels go to the book's scratch buffer).
#[derive(Default)]
struct Entry<'a> {
    symbol: Option<&'a str>,
    checksum: Option<u64>,
    timestamp: Option<&'a str>,
}

fn levels(s: &mut Scanner<'_>, side: Side, spec: &InstrumentSpec, out: &mut Vec<(Side, i64, i64)>) -> ScanResult<()> {
    s.array(|s| {
        let (mut price, mut qty) = (None, None);
        // Kraken's layout, `{"price":N,"qty":N}`, read straight; anything else by the general walk
        let mark = s.mark();
        if s.take_if(br#"{"price":"#) {
            price = Some(s.numeric()?);
            if s.take_if(br#","qty":"#) {
                qty = Some(s.numeric()?);
            }
        }
        if qty.is_none() || !s.take_if(b"}") {
            (price, qty) = (None, None);
            s.reset(mark);
            s.object(|s, k| match k {
                "price" => s.numeric().map(|v| price = Some(v)),
                "qty" => s.numeric().map(|v| qty = Some(v)),
                _ => s.skip_value(1),
            })?;
        }
        let (Some(p), Some(q)) = (price, qty) else { return Err("book level without price or qty".into()) };
        let price = spec.price_units(p).map_err(|e| e.to_string())?;
        let qty = spec.qty_units(q).map_err(|e| e.to_string())?;
        if price <= 0 || qty < 0 {
            return Err(format!("bad level {} {}", clip(p), clip(q)));
        }
        out.push((side, price, qty));
        Ok(())
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 in UTC as Kraken writes it (`2022-12-25T09:30:59.123456Z`) as ns since the epoch.
pub fn parse_rfc3339(s: &str) -> CoreResult<i64> {
    let bad = || malformed(format!("bad timestamp {:?}", clip(s)));
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> CoreResult<i64> {
        let part = b.get(from..from + len).ok_or_else(bad)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        Ok(part.iter().fold(0i64, |v, c| v * 10 + i64::from(c - b'0')))
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if b.len() < 20 || b[b.len() - 1] != b'Z' || seps.iter().any(|&(i, c)| b[i] != c) {
        return Err(bad());
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let mut frac_ns = 0;
    let tail = &b[19..b.len() - 1];
    if !tail.is_empty() {
        let digits = &tail[1..];
        if tail[0] != b'.' || digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let v = digits.iter().fold(0i64, |v, c| v * 10 + i64::from(c - b'0'));
        frac_ns = v * 10i64.pow(9 - digits.len() as u32);
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3_600 + mi * 60 + sec;
    Ok(secs * 1_000_000_000 + frac_ns)
}

/// Units of `unit` (mantissa, scale) as an integer at `decimals` places: the digits Kraken's checksum
/// takes from the level's text at the pair's precision (the `.` and the leading zeros dropped).
struct AtDecimals {
    up: u64,   // multiply by this (the unit's mantissa times 10^(decimals - scale))
    down: u64, // then divide by this, exactly (decimals < scale)
}

/// "00" .. "99": two digits per division.
const PAIRS: &[u8; 200] =
    b"0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849\
5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

impl AtDecimals {
    fn new(mantissa: i128, scale: u32, decimals: u32) -> CoreResult<AtDecimals> {
        let overflow = || CoreError::Overflow("checksum precision");
        let (up, down) = if decimals >= scale {
            (pow10(decimals - scale).and_then(|f| f.checked_mul(mantissa)).ok_or_else(overflow)?, 1)
        } else {
            (mantissa, pow10(scale - decimals).ok_or_else(overflow)?)
        };
        Ok(AtDecimals {
            up: u64::try_from(up).map_err(|_| overflow())?,
            down: u64::try_from(down).map_err(|_| overflow())?,
        })
    }

    /// Append the level's digits to `out` at `at`; the new end.
    #[inline]
    fn digits(&self, units: i64, out: &mut [u8], at: usize) -> CoreResult<usize> {
        let v = u64::try_from(units)
            .ok()
            .and_then(|u| u.checked_mul(self.up))
            .ok_or(CoreError::Overflow("checksum level"))?;
        let mut v = if self.down == 1 {
            v
        } else if v % self.down == 0 {
            v / self.down
        } else {
            return Err(CoreError::InvalidArgument(format!("level {units} has more digits than the pair's precision")));
        };
        // written backwards from the end, two digits per division (no leading zeros; 0 writes nothing)
        let end = at + v.checked_ilog10().map_or(0, |l| l as usize + 1);
        let mut i = end;
        while v >= 100 {
            let r = (v % 100) as usize * 2;
            v /= 100;
            i -= 2;
            out[i] = PAIRS[r];
            out[i + 1] = PAIRS[r + 1];
        }
        if v >= 10 {
            let r = v as usize * 2;
            out[i - 2] = PAIRS[r];
            out[i - 1] = PAIRS[r + 1];
        } else if v > 0 {
            out[i - 1] = b'0' + v as u8;
        }
        Ok(end)
    }
}

/// 20 levels x (price, qty) x at most 20 digits, and room for the last level's fixed-size copy.
const CHECKSUM_BUF: usize = 840;

/// One level of the last checksum: its price and qty and their digits.
#[derive(Clone, Copy, Debug)]
struct Rendered {
    price: i64,
    qty: i64,
    len: u8,
    text: [u8; 40],
}

const EMPTY: Rendered = Rendered { price: 0, qty: 0, len: 0, text: [0; 40] };

/// The digits of the top ten levels a side at the last checksum, so the next one renders only the levels
/// that changed (an update touches one to three of the twenty).
#[derive(Clone, Debug)]
pub struct ChecksumCache {
    decimals: (u32, u32),
    sides: [Side10; 2], // asks, bids
}

/// One side's last ten levels, double-buffered: the next checksum reads `bufs[cur]`, writes the other.
#[derive(Clone, Copy, Debug)]
struct Side10 {
    bufs: [[Rendered; 10]; 2],
    len: usize,
    cur: usize,
}

impl Default for ChecksumCache {
    fn default() -> Self {
        let side = Side10 { bufs: [[EMPTY; 10]; 2], len: 0, cur: 0 };
        ChecksumCache { decimals: (u32::MAX, u32::MAX), sides: [side; 2] }
    }
}

fn render(p: i64, q: i64, price: &AtDecimals, qty: &AtDecimals) -> CoreResult<Rendered> {
    let mut r = Rendered { price: p, qty: q, len: 0, text: [0; 40] };
    let mid = price.digits(p, &mut r.text, 0)?;
    r.len = qty.digits(q, &mut r.text, mid)? as u8;
    Ok(r)
}

/// One side's top ten into `out` at `at`, reusing the cached digits of levels that did not change.
fn side_digits(
    ladder: &super::Ladder,
    bids: bool,
    cached: &mut Side10,
    units: (&AtDecimals, &AtDecimals),
    out: &mut [u8; CHECKSUM_BUF],
    at: usize,
) -> CoreResult<usize> {
    let (cur, prev_n) = (cached.cur, cached.len);
    let [a, b] = &mut cached.bufs;
    let (prev, next) = if cur == 0 { (&*a, b) } else { (&*b, a) };
    let (mut j, mut n, mut at) = (0, 0, at);
    ladder.try_for_each_top(10, |p, q| {
        while j < prev_n && (if bids { prev[j].price > p } else { prev[j].price < p }) {
            j += 1;
        }
        if j < prev_n && prev[j].price == p && prev[j].qty == q {
            next[n] = prev[j];
        } else {
            next[n] = render(p, q, units.0, units.1)?;
        }
        let r = &next[n];
        out[at..at + 40].copy_from_slice(&r.text); // a fixed-size copy (no call); only `len` counts
        at += usize::from(r.len);
        n += 1;
        Ok::<(), CoreError>(())
    })?;
    (cached.len, cached.cur) = (n, 1 - cur);
    Ok(at)
}

/// Kraken's own layout, `{"channel":"book","type":"update"|"snapshot","data":[{"symbol":"..","bids":[..],
/// "asks":[..],"checksum":N[,"timestamp":".."]}]}` without whitespace, for `symbol`: read straight
/// (snapshot?, the entry). `None` when the message is laid out otherwise or is another symbol's (the
/// general walk decides then); an error when the layout fits and a value is malformed.
fn fast<'a>(
    raw: &'a [u8],
    symbol: &str,
    spec: &InstrumentSpec,
    out: &mut Vec<(Side, i64, i64)>,
) -> Option<ScanResult<(bool, Entry<'a>)>> {
    out.clear();
    let mut s = Scanner::new(raw);
    if !s.take_if(br#"{"channel":"book","type":""#) {
        return None;
    }
    let snapshot = if s.take_if(br#"update""#) {
        false
    } else if s.take_if(br#"snapshot""#) {
        true
    } else {
        return None;
    };
    if !(s.take_if(br#","data":[{"symbol":""#) && s.take_if(symbol.as_bytes()) && s.take_if(br#"","bids":"#)) {
        return None;
    }
    let mut entry = Entry::default();
    let mut body = || -> ScanResult<bool> {
        levels(&mut s, Side::Buy, spec, out)?;
        if !s.take_if(br#","asks":"#) {
            return Ok(false);
        }
        levels(&mut s, Side::Sell, spec, out)?;
        if !s.take_if(br#","checksum":"#) {
            return Ok(false);
        }
        entry.checksum = Some(s.uint()?);
        if s.take_if(br#","timestamp":"#) {
            entry.timestamp = Some(s.plain_string()?);
        }
        Ok(s.take_if(b"}]}") && s.end().is_ok())
    };
    match body() {
        Ok(true) => Some(Ok((snapshot, entry))),
        Ok(false) => {
            out.clear();
            None
        }
        Err(e) => Some(Err(e)),
    }
}

/// Any layout of a `book` message: `symbol`'s entry (snapshot?, the entry), or `None` when the message is
/// not `book` or holds none of it; its levels in `out`.
fn general<'a>(
    raw: &'a [u8],
    symbol: &str,
    spec: &InstrumentSpec,
    out: &mut Vec<(Side, i64, i64)>,
) -> CoreResult<Option<(bool, Entry<'a>)>> {
    out.clear();
    let (mut channel, mut kind, mut ours, mut found) = (None, None, Entry::default(), 0);
    let mut s = Scanner::new(raw);
    s.object(|s, k| match k {
        "channel" => s.plain_string().map(|v| channel = Some(v)),
        "type" => s.plain_string().map(|v| kind = Some(v)),
        "data" => s.array(|s| {
            let start = out.len();
            let mut e = Entry::default();
            s.object(|s, k| match k {
                "symbol" => s.plain_string().map(|v| e.symbol = Some(v)),
                "bids" => levels(s, Side::Buy, spec, out),
                "asks" => levels(s, Side::Sell, spec, out),
                "checksum" => s.uint().map(|v| e.checksum = Some(v)),
                "timestamp" => s.plain_string().map(|v| e.timestamp = Some(v)),
                _ => s.skip_value(1),
            })?;
            if e.symbol != Some(symbol) {
                out.truncate(start);
                return Ok(());
            }
            found += 1;
            ours = e;
            Ok(())
        }),
        _ => s.skip_value(1),
    })
    .and_then(|()| s.end())
    .map_err(malformed)?;
    if channel != Some("book") || found == 0 {
        return Ok(None);
    }
    if found > 1 {
        return Err(malformed(format!("{} entries for {}", found, clip(symbol))));
    }
    let snapshot = match kind {
        Some("snapshot") => true,
        Some("update") => false,
        _ => return Err(malformed("book message of no known type")),
    };
    Ok(Some((snapshot, ours)))
}

impl Book {
    /// Kraken's checksum of the top ten levels at the pair's decimals, without building strings; the
    /// digits of levels the last call saw unchanged come from its cache (keyed by price and qty).
    pub fn kraken_checksum_fast(&mut self, price_decimals: u32, qty_decimals: u32) -> CoreResult<u32> {
        let (pu, qu) = (self.spec.price_unit, self.spec.qty_unit);
        let price = AtDecimals::new(pu.mantissa, pu.scale, price_decimals)?;
        let qty = AtDecimals::new(qu.mantissa, qu.scale, qty_decimals)?;
        let cache = &mut self.kraken_cache;
        if cache.decimals != (price_decimals, qty_decimals) {
            *cache = ChecksumCache { decimals: (price_decimals, qty_decimals), ..ChecksumCache::default() };
        }
        let [asks, bids] = &mut cache.sides;
        let mut buf = [0u8; CHECKSUM_BUF];
        let at = side_digits(&self.asks, false, asks, (&price, &qty), &mut buf, 0)?;
        let at = side_digits(&self.bids, true, bids, (&price, &qty), &mut buf, at)?;
        Ok(crc32fast::hash(&buf[..at]))
    }

    /// Parse a Kraken v2 `book` message and apply `symbol`'s entry: a snapshot replaces the book (VALID),
    /// an update sets levels; then both sides are cut to `depth` and the checksum (at `price_decimals` /
    /// `qty_decimals`) is compared with the entry's. `None` when the message is not `book` or has no entry
    /// of the symbol (nothing changes). A malformed message errors with `Parse` and an update while the
    /// book awaits a snapshot with `BookNotReady`; neither changes anything. A checksum mismatch returns
    /// `checksum_ok: false` and leaves the book RESYNCING (re-subscribe for a snapshot).
    pub fn apply_kraken_book(
        &mut self,
        raw: &[u8],
        symbol: &str,
        depth: usize,
        price_decimals: u32,
        qty_decimals: u32,
    ) -> CoreResult<Option<KrakenBook>> {
        let parsed = match fast(raw, symbol, &self.spec, &mut self.scratch) {
            Some(r) => r.map(Some).map_err(malformed)?,
            None => general(raw, symbol, &self.spec, &mut self.scratch)?,
        };
        let Some((snapshot, ours)) = parsed else { return Ok(None) };
        let expected = ours.checksum.ok_or_else(|| malformed("book entry without checksum"))?;
        let expected = u32::try_from(expected).map_err(|_| malformed("checksum out of range"))?;
        let ts_event = ours.timestamp.map(parse_rfc3339).transpose()?.unwrap_or(0);
        if !snapshot {
            self.seq.ensure_valid()?; // waiting for the snapshot of a re-subscription
        } else {
            self.bids.clear();
            self.asks.clear();
        }
        for i in 0..self.scratch.len() {
            let (side, p, q) = self.scratch[i];
            self.ladder_mut(side).set(p, q);
        }
        self.bids.truncate(depth);
        self.asks.truncate(depth);
        if snapshot {
            self.seq.on_snapshot(0);
        }
        let checksum_ok = self.kraken_checksum_fast(price_decimals, qty_decimals)? == expected;
        if !checksum_ok {
            self.seq.begin_resync();
        }
        Ok(Some(KrakenBook { snapshot, applied: self.scratch.len(), ts_event, checksum_ok }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASKS: [(&str, &str); 10] = [
        ("45285.2", "0.00100000"),
        ("45286.4", "1.54571953"),
        ("45286.6", "1.54571109"),
        ("45289.6", "1.54560911"),
        ("45290.2", "0.15890660"),
        ("45291.8", "1.54553491"),
        ("45294.7", "0.04454749"),
        ("45296.1", "0.35380000"),
        ("45297.5", "0.09945542"),
        ("45299.5", "0.18772827"),
    ];
    const BIDS: [(&str, &str); 10] = [
        ("45283.5", "0.10000000"),
        ("45283.4", "1.54582015"),
        ("45282.1", "0.10000000"),
        ("45281.0", "0.10000000"),
        ("45280.3", "1.54592586"),
        ("45279.0", "0.07990000"),
        ("45277.6", "0.03310103"),
        ("45277.5", "0.30000000"),
        ("45277.3", "1.54602737"),
        ("45276.6", "0.15445238"),
    ];

    fn book() -> Book {
        Book::new(InstrumentSpec::new("0.1", "0.00000001", None, None, None, None, None).unwrap())
    }

    /// Levels as Kraken writes them: JSON numbers, trailing zeros dropped (`45281.0` -> `45281`).
    fn side(levels: &[(&str, &str)]) -> String {
        let trim = |s: &str| s.trim_end_matches('0').trim_end_matches('.').to_owned();
        let items: Vec<String> =
            levels.iter().map(|(p, q)| format!(r#"{{"price":{},"qty":{}}}"#, trim(p), trim(q))).collect();
        format!("[{}]", items.join(","))
    }

    fn msg(kind: &str, bids: &str, asks: &str, checksum: u64) -> String {
        format!(
            r#"{{"channel":"book","type":"{kind}","data":[{{"symbol":"BTC/USD","bids":{bids},"asks":{asks},"checksum":{checksum},"timestamp":"2022-12-25T09:30:59.123456Z"}}]}}"#
        )
    }

    #[test]
    fn the_docs_snapshot_checks_out() {
        let mut b = book();
        let raw = msg("snapshot", &side(&BIDS), &side(&ASKS), 3_310_070_434);
        let r = b.apply_kraken_book(raw.as_bytes(), "BTC/USD", 10, 1, 8).unwrap().unwrap();
        assert_eq!((r.snapshot, r.applied, r.checksum_ok), (true, 20, true));
        assert_eq!(r.ts_event, 1_671_960_659_123_456_000);
        assert_eq!(b.best_bid(), Some((452_835, 10_000_000)));
        assert_eq!(b.best_ask(), Some((452_852, 100_000)));
        assert_eq!(b.kraken_checksum(1, 8).unwrap(), 3_310_070_434); // the string-building version agrees
        assert_eq!(b.apply_kraken_book(raw.as_bytes(), "ETH/USD", 10, 1, 8).unwrap(), None);
    }

    #[test]
    fn updates_cut_to_depth_and_a_mismatch_resyncs() {
        let mut b = book();
        let raw = msg("snapshot", &side(&BIDS), &side(&ASKS), 3_310_070_434);
        b.apply_kraken_book(raw.as_bytes(), "BTC/USD", 10, 1, 8).unwrap();
        // a better bid pushes the tenth out; the checksum covers the new top ten
        let upd = msg("update", r#"[{"price":45284.0,"qty":2}]"#, "[]", 0);
        let r = b.apply_kraken_book(upd.as_bytes(), "BTC/USD", 10, 1, 8).unwrap().unwrap();
        assert!(!r.checksum_ok);
        assert_eq!(b.bids.len(), 10);
        assert_eq!(b.best_bid(), Some((452_840, 200_000_000)));
        assert!(b.seq.ensure_valid().is_err()); // resyncing: further updates refused, nothing changes
        let again = msg("update", r#"[{"price":45284.1,"qty":1}]"#, "[]", 0);
        assert!(matches!(b.apply_kraken_book(again.as_bytes(), "BTC/USD", 10, 1, 8), Err(CoreError::BookNotReady(_))));
        assert_eq!(b.best_bid(), Some((452_840, 200_000_000)));
        b.apply_kraken_book(raw.as_bytes(), "BTC/USD", 10, 1, 8).unwrap(); // a fresh snapshot
        let sum = b.kraken_checksum(1, 8).unwrap();
        let good = msg("update", r#"[{"price":45283.5,"qty":0}]"#, "[]", 0);
        let mut probe = b.clone();
        probe.bids.set(452_835, 0);
        let want = probe.kraken_checksum(1, 8).unwrap();
        assert_ne!(want, sum);
        let good = good.replace(r#""checksum":0"#, &format!(r#""checksum":{want}"#));
        let r = b.apply_kraken_book(good.as_bytes(), "BTC/USD", 10, 1, 8).unwrap().unwrap();
        assert!(r.checksum_ok);
        assert_eq!(b.best_bid(), Some((452_834, 154_582_015)));
    }

    #[test]
    fn a_change_made_outside_is_not_hidden_by_the_cache() {
        let mut b = book();
        let raw = msg("snapshot", &side(&BIDS), &side(&ASKS), 3_310_070_434);
        b.apply_kraken_book(raw.as_bytes(), "BTC/USD", 10, 1, 8).unwrap();
        b.asks.set(452_864, 5); // the fifth ask's qty, changed behind the Kraken path
                                // an update of the bids only, with the checksum of the book as Kraken has it (asks unchanged)
        let upd = msg("update", r#"[{"price":45283.5,"qty":0.2}]"#, "[]", 0);
        let mut kraken = book();
        kraken.apply_kraken_book(raw.as_bytes(), "BTC/USD", 10, 1, 8).unwrap();
        kraken.bids.set(452_835, 20_000_000);
        let want = kraken.kraken_checksum(1, 8).unwrap();
        let upd = upd.replace(r#""checksum":0"#, &format!(r#""checksum":{want}"#));
        let r = b.apply_kraken_book(upd.as_bytes(), "BTC/USD", 10, 1, 8).unwrap().unwrap();
        assert!(!r.checksum_ok, "the cached asks must not stand in for the changed ones");
        let r = kraken.apply_kraken_book(upd.as_bytes(), "BTC/USD", 10, 1, 8).unwrap().unwrap();
        assert!(r.checksum_ok);
        // a change beyond the tenth level reuses the side's state and still checks out
        let far = msg("update", r#"[{"price":45200.0,"qty":1}]"#, "[]", want.into());
        let r = kraken.apply_kraken_book(far.as_bytes(), "BTC/USD", 10, 1, 8).unwrap().unwrap();
        assert!(r.checksum_ok);
        assert_eq!(kraken.bids.len(), 10);
    }

    #[test]
    fn the_straight_read_and_the_general_walk_agree() {
        let canonical = msg("snapshot", &side(&BIDS), &side(&ASKS), 3_310_070_434);
        let spaced = canonical.replace(r#""channel":"book","#, r#" "channel" : "book" , "#);
        let reordered = canonical
            .replace(r#""channel":"book","type":"snapshot","#, r#""type":"snapshot","#)
            .replace("}]}", r#"}],"channel":"book"}"#);
        let (mut a, mut b, mut c) = (book(), book(), book());
        let ra = a.apply_kraken_book(canonical.as_bytes(), "BTC/USD", 10, 1, 8).unwrap();
        assert_eq!(ra, b.apply_kraken_book(spaced.as_bytes(), "BTC/USD", 10, 1, 8).unwrap());
        assert_eq!(ra, c.apply_kraken_book(reordered.as_bytes(), "BTC/USD", 10, 1, 8).unwrap());
        assert_eq!(
            (a.depth(Side::Buy, 10), a.depth(Side::Sell, 10)),
            (b.depth(Side::Buy, 10), b.depth(Side::Sell, 10))
        );
        assert_eq!(
            (a.depth(Side::Buy, 10), a.depth(Side::Sell, 10)),
            (c.depth(Side::Buy, 10), c.depth(Side::Sell, 10))
        );
        // a symbol that starts like ours, a snapshot without a timestamp, trailing bytes
        let longer = canonical.replace("BTC/USD", "BTC/USDT");
        assert_eq!(a.apply_kraken_book(longer.as_bytes(), "BTC/USD", 10, 1, 8).unwrap(), None);
        let bare = canonical.replace(r#","timestamp":"2022-12-25T09:30:59.123456Z""#, "");
        assert_eq!(a.apply_kraken_book(bare.as_bytes(), "BTC/USD", 10, 1, 8).unwrap().map(|r| r.ts_event), Some(0));
        assert!(a.apply_kraken_book(format!("{canonical} x").as_bytes(), "BTC/USD", 10, 1, 8).is_err());
    }

    #[test]
    fn levels_in_another_layout_read_the_same() {
        for layout in [
            r#"[{"qty":2,"price":45284.0}]"#,
            r#"[{"price":45284.0,"qty":2,"extra":[1,{"a":null}]}]"#,
            r#"[ { "price" : 45284.0 , "qty" : 2 } ]"#,
            r#"[{"price":"45284.0","qty":"2.00000000"}]"#,
        ] {
            let mut b = book();
            b.apply_kraken_book(
                msg("snapshot", &side(&BIDS), &side(&ASKS), 3_310_070_434).as_bytes(),
                "BTC/USD",
                10,
                1,
                8,
            )
            .unwrap();
            let r = b.apply_kraken_book(msg("update", layout, "[]", 0).as_bytes(), "BTC/USD", 10, 1, 8).unwrap();
            assert_eq!(r.map(|r| r.applied), Some(1), "{layout}");
            assert_eq!(b.best_bid(), Some((452_840, 200_000_000)), "{layout}");
        }
        let mut b = book();
        for bad in [r#"[{"price":45284.0,"qty":2"#, r#"[{"price":45284.0,"qty":}]"#, r#"[{"price":45284.0}]"#] {
            assert!(
                b.apply_kraken_book(msg("snapshot", bad, "[]", 0).as_bytes(), "BTC/USD", 10, 1, 8).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn malformed_changes_nothing() {
        let mut b = book();
        let raw = msg("snapshot", &side(&BIDS), &side(&ASKS), 3_310_070_434);
        b.apply_kraken_book(raw.as_bytes(), "BTC/USD", 10, 1, 8).unwrap();
        for bad in [
            msg("update", r#"[{"price":"x","qty":1}]"#, "[]", 1),
            msg("update", r#"[{"price":45284.05,"qty":1}]"#, "[]", 1),
            msg("update", r#"[{"price":45284.0}]"#, "[]", 1),
            msg("update", r#"[{"price":45284.0,"qty":-1}]"#, "[]", 1),
            msg("update", "[]", "[]", 1).replace(r#","checksum":1"#, ""),
            msg("update", "[]", "[]", 1 << 33),
            msg("sideways", "[]", "[]", 1),
            msg("update", "[]", "[]", 1).replace("2022-12-25T", "2022-12-25 "),
            r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":1"#.to_owned(),
        ] {
            assert!(b.apply_kraken_book(bad.as_bytes(), "BTC/USD", 10, 1, 8).is_err(), "{bad}");
            assert_eq!(b.best_bid(), Some((452_835, 10_000_000)));
            assert!(b.seq.ensure_valid().is_ok());
        }
        let other = br#"{"channel":"trade","type":"update","data":[]}"#;
        assert_eq!(b.apply_kraken_book(other, "BTC/USD", 10, 1, 8).unwrap(), None);
    }

    #[test]
    fn the_fast_checksum_agrees_with_the_string_one() {
        for (tick, lot, pd, qd) in [("0.1", "0.00000001", 1, 8), ("0.5", "0.001", 2, 5), ("0.01", "0.1", 2, 1)] {
            let mut b = Book::new(InstrumentSpec::new(tick, lot, None, None, None, None, None).unwrap());
            let mut x: i64 = 12_345;
            for i in 0..15 {
                x = (x * 1_103_515_245 + 12_345).rem_euclid(1 << 31);
                b.bids.set(1_000_000 - i * 7, 1 + x % 100_000_007);
                b.asks.set(1_000_001 + i * 3, 1 + (x >> 3) % 9);
            }
            assert_eq!(b.kraken_checksum_fast(pd, qd).unwrap(), b.kraken_checksum(pd, qd).unwrap(), "{tick} {lot}");
            for k in 0..30 {
                // changes the cached digits must not hide: a new best, a removal, a qty, a shift
                match k % 4 {
                    0 => b.bids.set(1_000_000 + k, 5),
                    1 => b.asks.set(1_000_001 + (k % 5) * 3, 0),
                    2 => b.asks.set(1_000_001 + (k % 7) * 3, k + 1),
                    _ => b.bids.set(1_000_000 - (k % 9) * 7, 0),
                }
                assert_eq!(b.kraken_checksum_fast(pd, qd).unwrap(), b.kraken_checksum(pd, qd).unwrap(), "{k}");
            }
            assert_eq!(b.kraken_checksum_fast(pd + 1, qd).unwrap(), b.kraken_checksum(pd + 1, qd).unwrap());
        }
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_rfc3339("2000-03-01T00:00:01.5Z").unwrap(), 951_868_801_500_000_000);
        for bad in ["", "2022-12-25T09:30:59", "2022-13-25T09:30:59Z", "2022-12-25T09:30:59.Z", "2022-12-25T09:30:5xZ"]
        {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
