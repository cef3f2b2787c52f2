//! OKX v5 `books` pushes, parsed from raw bytes and applied in one call with OKX's two checks.
//!
//! `{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot"|"update","data":[{"asks":[["px","sz",
//! "0","numOrders"],..],"bids":[..],"ts":"ms","checksum":-123,"prevSeqId":-1,"seqId":10}]}`. A snapshot
//! replaces the book; an update applies only when its `prevSeqId` equals the last `seqId` (a heartbeat has
//! `prevSeqId == seqId`, a reset after maintenance `seqId < prevSeqId`: both chain). A gap marks the book
//! invalid until the next snapshot.
//!
//! Checksum: CRC32 (as a signed 32-bit integer) of the first 25 bid and ask levels interleaved,
//! `bid1px:bid1sz:ask1px:ask1sz:bid2px:..` (the longer side's remainder appended), over the book after
//! the message. The book holds integer units, so each level is written back as its plain decimal (no
//! trailing zeros, no exponent: OKX's own form, e.g. `3366`, `0.5`). OKX deprecated the field in 2026 and
//! sends `checksum: 0` since: 0 means "not stated" and is not checked. A mismatch marks the book invalid.
//!
//! Sizes on the wire may be in another unit than the book's (swap contracts vs base): `wire` is the spec
//! of the wire's strings, whose price and quantity units count the same as the book's (a wire lot of
//! contracts is one book qty unit); `None` uses the book's own spec.

use super::scan::{ScanResult, Scanner};
use super::Book;
use crate::error::{CoreError, CoreResult};
use crate::types::{Dec, InstrumentSpec, Side};

/// Levels the checksum covers on each side.
pub const CHECKSUM_DEPTH: usize = 25;

fn malformed(detail: impl Into<String>) -> CoreError {
    CoreError::Parse { venue: "okx", detail: detail.into() }
}

/// What a `books` push did to the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OkxVerdict {
    /// A snapshot replaced the book (VALID at its `seqId`).
    Snapshot,
    /// An update chained and applied.
    Update,
    /// An update while the book waits for a snapshot (before the first, or after a gap): ignored.
    Waiting,
    /// `prevSeqId` is not the last `seqId`: nothing applied, the book is INVALID.
    Gap,
    /// Applied, but the checksum disagrees with the book: the book is INVALID.
    Checksum,
}

impl OkxVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            OkxVerdict::Snapshot => "snapshot",
            OkxVerdict::Update => "update",
            OkxVerdict::Waiting => "waiting",
            OkxVerdict::Gap => "gap",
            OkxVerdict::Checksum => "checksum",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OkxBooks {
    pub verdict: OkxVerdict,
    pub seq_id: i64,
    pub ts_ms: u64,
}

#[derive(Default)]
struct Entry {
    seq: Option<i64>,
    prev: Option<i64>,
    checksum: i32,
    ts_ms: u64,
    seen: bool,
}

fn int(s: &mut Scanner<'_>) -> ScanResult<i64> {
    let t = s.numeric()?;
    t.parse::<i64>().map_err(|_| format!("expected an integer, not {t:?}"))
}

fn levels(s: &mut Scanner<'_>, side: Side, spec: &InstrumentSpec, out: &mut Vec<(Side, i64, i64)>) -> ScanResult<()> {
    s.string_pairs(|p, q| {
        let price = spec.price_units(p).map_err(|e| e.to_string())?;
        let qty = spec.qty_units(q).map_err(|e| e.to_string())?;
        if price <= 0 || qty < 0 {
            return Err(format!("bad level {p} {q}"));
        }
        out.push((side, price, qty));
        Ok(())
    })
}

fn entry(s: &mut Scanner<'_>, spec: &InstrumentSpec, out: &mut Vec<(Side, i64, i64)>, e: &mut Entry) -> ScanResult<()> {
    if e.seen {
        return Err("more than one book in data".into());
    }
    e.seen = true;
    s.object(|s, k| match k {
        "asks" => levels(s, Side::Sell, spec, out),
        "bids" => levels(s, Side::Buy, spec, out),
        "seqId" => int(s).map(|v| e.seq = Some(v)),
        "prevSeqId" => int(s).map(|v| e.prev = Some(v)),
        "checksum" => int(s).and_then(|v| {
            e.checksum = i32::try_from(v).map_err(|_| format!("checksum {v} out of range"))?;
            Ok(())
        }),
        "ts" => s.numeric().and_then(|t| {
            e.ts_ms = t.parse().map_err(|_| format!("bad ts {t:?}"))?;
            Ok(())
        }),
        _ => s.skip_value(1),
    })
}

/// The checksum's text, written into a fixed buffer (no allocation, no per-byte capacity checks).
struct Text {
    buf: [u8; TEXT_CAP],
    len: usize,
}

/// 25 levels x 2 sides x (price + size) of at most 53 bytes each, plus separators.
const TEXT_CAP: usize = CHECKSUM_DEPTH * 2 * 2 * 54;

const PAIRS: &[u8; 200] = b"00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

impl Text {
    fn new() -> Text {
        Text { buf: [0u8; TEXT_CAP], len: 0 }
    }

    #[inline]
    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    #[inline]
    fn extend(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// `units` of `unit` as a plain decimal without trailing zeros (`3366`, `0.5`).
    #[inline]
    fn plain(&mut self, units: i64, unit: Dec) {
        let m = i128::from(units) * unit.mantissa;
        if m < 0 {
            self.push(b'-');
        }
        match u64::try_from(m.unsigned_abs()) {
            Ok(v) => self.digits(v, unit.scale as usize),
            Err(_) => {
                let text = crate::types::format_scaled(m.abs(), unit.scale);
                let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
                self.extend(text.as_bytes());
            }
        }
    }

    /// `v * 10^-scale` as a plain decimal (u64 arithmetic: the common case).
    #[inline]
    fn digits(&mut self, mut v: u64, mut scale: usize) {
        if v == 0 {
            self.push(b'0');
            return;
        }
        while scale >= 4 && v % 10_000 == 0 {
            v /= 10_000;
            scale -= 4;
        }
        while scale > 0 && v % 10 == 0 {
            v /= 10;
            scale -= 1;
        }
        let mut d = [0u8; 20]; // the digits, most significant last written at d[k..]
        let mut k = d.len();
        while v >= 100 {
            let pair = (v % 100) as usize * 2;
            v /= 100;
            k -= 2;
            d[k] = PAIRS[pair];
            d[k + 1] = PAIRS[pair + 1];
        }
        if v >= 10 {
            let pair = v as usize * 2;
            k -= 2;
            d[k] = PAIRS[pair];
            d[k + 1] = PAIRS[pair + 1];
        } else {
            k -= 1;
            d[k] = b'0' + v as u8;
        }
        let digits = &d[k..];
        let n = digits.len();
        if scale == 0 {
            self.extend(digits);
        } else if n > scale {
            self.extend(&digits[..n - scale]);
            self.push(b'.');
            self.extend(&digits[n - scale..]);
        } else {
            self.extend(b"0.");
            for _ in n..scale {
                self.push(b'0');
            }
            self.extend(digits);
        }
    }
}

impl Book {
    /// OKX's checksum of this book's first 25 levels per side, written in `wire`'s units (or the book's).
    pub fn okx_book_checksum(&self, wire: Option<&InstrumentSpec>) -> i32 {
        let spec = wire.unwrap_or(&self.spec);
        let (pu, qu) = (spec.price_unit, spec.qty_unit);
        let mut text = Text::new();
        let mut bids = self.bids.iter().take(CHECKSUM_DEPTH);
        let mut asks = self.asks.iter().take(CHECKSUM_DEPTH);
        loop {
            let (b, a) = (bids.next(), asks.next());
            if b.is_none() && a.is_none() {
                break;
            }
            for (p, q) in [b, a].into_iter().flatten() {
                if text.len > 0 {
                    text.push(b':');
                }
                text.plain(p, pu);
                text.push(b':');
                text.plain(q, qu);
            }
        }
        crc32fast::hash(text.as_bytes()) as i32
    }

    /// Parse an OKX `books` push and apply it to this book when it is `inst_id`'s (see the module
    /// doc). `None` when the message is not a `books` push of `inst_id` (nothing changes). A malformed
    /// message errors with `Parse` and changes nothing.
    pub fn apply_okx_books(
        &mut self,
        raw: &[u8],
        inst_id: &str,
        wire: Option<&InstrumentSpec>,
    ) -> CoreResult<Option<OkxBooks>> {
        let spec = wire.unwrap_or(&self.spec);
        let scratch = &mut self.scratch;
        scratch.clear();
        let (mut channel, mut inst, mut action) = (None, None, None);
        let mut e = Entry::default();
        let mut s = Scanner::new(raw);
        s.object(|s, k| match k {
            "arg" => s.object(|s, k| match k {
                "channel" => s.plain_string().map(|v| channel = Some(v)),
                "instId" => s.plain_string().map(|v| inst = Some(v)),
                _ => s.skip_value(2),
            }),
            "action" => s.plain_string().map(|v| action = Some(v)),
            // OKX states `arg` first: the data of other channels and instruments is only walked
            "data" if channel == Some("books") && inst == Some(inst_id) => s.array(|s| entry(s, spec, scratch, &mut e)),
            "data" if channel.is_none() => Err("data before arg".into()),
            _ => s.skip_value(1),
        })
        .and_then(|()| s.end())
        .map_err(malformed)?;
        if channel != Some("books") || inst != Some(inst_id) || !e.seen {
            return Ok(None);
        }
        let seq = e.seq.ok_or_else(|| malformed("books without seqId"))?;
        let verdict = match action {
            Some("snapshot") => self.okx_snapshot(seq),
            Some("update") => self.okx_update(seq, e.prev.ok_or_else(|| malformed("update without prevSeqId"))?),
            other => return Err(malformed(format!("unknown action {other:?}"))),
        };
        let verdict = match verdict {
            OkxVerdict::Snapshot | OkxVerdict::Update if e.checksum != 0 => {
                let ours = self.okx_book_checksum(wire);
                if ours == e.checksum {
                    verdict
                } else {
                    self.seq.invalidate(e.checksum as u32 as u64, ours as u32 as u64);
                    OkxVerdict::Checksum
                }
            }
            v => v,
        };
        Ok(Some(OkxBooks { verdict, seq_id: seq, ts_ms: e.ts_ms }))
    }

    fn okx_snapshot(&mut self, seq: i64) -> OkxVerdict {
        self.bids.clear();
        self.asks.clear();
        for i in 0..self.scratch.len() {
            let (side, p, q) = self.scratch[i];
            self.ladder_mut(side).set(p, q);
        }
        self.seq.on_snapshot(u64::try_from(seq).unwrap_or(0));
        OkxVerdict::Snapshot
    }

    fn okx_update(&mut self, seq: i64, prev: i64) -> OkxVerdict {
        if self.seq.ensure_valid().is_err() {
            return OkxVerdict::Waiting;
        }
        if u64::try_from(prev).ok() != Some(self.seq.last_id) {
            self.seq.invalidate(self.seq.last_id, prev as u64);
            return OkxVerdict::Gap;
        }
        for i in 0..self.scratch.len() {
            let (side, p, q) = self.scratch[i];
            self.ladder_mut(side).set(p, q);
        }
        self.seq.applied(u64::try_from(seq).unwrap_or(0));
        OkxVerdict::Update
    }
}

#[cfg(test)]
mod tests {
    use super::super::checksum::okx_checksum;
    use super::*;

    fn spec(tick: &str, lot: &str) -> InstrumentSpec {
        InstrumentSpec::new(tick, lot, None, None, None, None, None).unwrap()
    }

    fn msg(action: &str, bids: &str, asks: &str, prev: i64, seq: i64, checksum: i32) -> String {
        format!(
            r#"{{"arg":{{"channel":"books","instId":"BTC-USDT"}},"action":"{action}","data":[{{"asks":[{asks}],"bids":[{bids}],"ts":"1597026383085","checksum":{checksum},"prevSeqId":{prev},"seqId":{seq}}}]}}"#
        )
    }

    #[test]
    fn the_docs_checksum_examples() {
        let mut b = Book::new(spec("0.1", "1"));
        let m = msg(
            "snapshot",
            r#"["3366.1","7","0","3"],["3366","6","0","4"]"#,
            r#"["3366.8","9","0","3"],["3368","8","0","4"]"#,
            -1,
            10,
            -1881014294,
        );
        let r = b.apply_okx_books(m.as_bytes(), "BTC-USDT", None).unwrap().unwrap();
        assert_eq!(r, OkxBooks { verdict: OkxVerdict::Snapshot, seq_id: 10, ts_ms: 1597026383085 });
        let odd = msg(
            "snapshot",
            r#"["3366.1","7","0","3"]"#,
            r#"["3366.8","9","0","3"],["3368","8","0","4"],["3372","8","0","4"]"#,
            -1,
            11,
            831078360,
        );
        let r = b.apply_okx_books(odd.as_bytes(), "BTC-USDT", None).unwrap().unwrap();
        assert_eq!(r.verdict, OkxVerdict::Snapshot);
        assert_eq!(b.okx_book_checksum(None), 831078360);
    }

    #[test]
    fn plain_decimals() {
        let d = |s: &str| Dec::parse(s).unwrap();
        let plain = |units: i64, unit: Dec| {
            let mut t = Text::new();
            t.plain(units, unit);
            String::from_utf8(t.as_bytes().to_vec()).unwrap()
        };
        assert_eq!(plain(33660, d("0.1")), "3366");
        assert_eq!(plain(33661, d("0.1")), "3366.1");
        assert_eq!(plain(5000, d("0.0001")), "0.5");
        assert_eq!(plain(5, d("0.0001")), "0.0005");
        assert_eq!(plain(123_456, d("0.0001")), "12.3456");
        assert_eq!(plain(3, d("5")), "15");
        assert_eq!(plain(-25, d("0.01")), "-0.25");
        assert_eq!(plain(0, d("0.01")), "0");
        assert_eq!(plain(i64::MAX, d("1000000000000")), "9223372036854775807000000000000");
        for unit in ["0.1", "0.0001", "0.00000001", "1", "5", "0.25"] {
            let u = d(unit);
            for units in (0..3000).chain([99_999_999, 100_000_000, 123_456_789_012, i64::MAX]) {
                let slow = crate::types::format_scaled(i128::from(units) * u.mantissa, u.scale);
                let slow = if slow.contains('.') { slow.trim_end_matches('0').trim_end_matches('.') } else { &slow };
                assert_eq!(plain(units, u), slow, "{units} x {unit}");
            }
        }
    }

    #[test]
    fn updates_chain_gaps_invalidate_and_checksums_are_checked() {
        let mut b = Book::new(spec("0.1", "0.0001"));
        let early = msg("update", r#"["100","1","0","1"]"#, "", 1, 2, 0);
        assert_eq!(
            b.apply_okx_books(early.as_bytes(), "BTC-USDT", None).unwrap().unwrap().verdict,
            OkxVerdict::Waiting
        );
        let snap =
            msg("snapshot", r#"["100","1","0","1"],["99.9","2","0","1"]"#, r#"["100.1","0.5","0","1"]"#, -1, 5, 0);
        b.apply_okx_books(snap.as_bytes(), "BTC-USDT", None).unwrap();
        let want = okx_checksum(&[("100", "1"), ("99.9", "0.3")], &[("100.1", "0.5")]);
        let upd = msg("update", r#"["99.9","0.3","0","1"]"#, "", 5, 6, want);
        assert_eq!(b.apply_okx_books(upd.as_bytes(), "BTC-USDT", None).unwrap().unwrap().verdict, OkxVerdict::Update);
        assert_eq!(b.best_bid(), Some((1000, 10_000)));
        let beat = msg("update", "", "", 6, 6, want);
        assert_eq!(b.apply_okx_books(beat.as_bytes(), "BTC-USDT", None).unwrap().unwrap().verdict, OkxVerdict::Update);
        let wrong = msg("update", r#"["100","0","0","0"]"#, "", 6, 7, want);
        assert_eq!(
            b.apply_okx_books(wrong.as_bytes(), "BTC-USDT", None).unwrap().unwrap().verdict,
            OkxVerdict::Checksum
        );
        assert!(b.seq.ensure_valid().is_err());
        b.apply_okx_books(snap.as_bytes(), "BTC-USDT", None).unwrap();
        let gap = msg("update", r#"["100","3","0","1"]"#, "", 6, 7, 0);
        assert_eq!(b.apply_okx_books(gap.as_bytes(), "BTC-USDT", None).unwrap().unwrap().verdict, OkxVerdict::Gap);
        assert_eq!(b.best_bid(), Some((1000, 10_000))); // the gapped update was not applied
        assert_eq!(b.apply_okx_books(upd.as_bytes(), "BTC-USDT", None).unwrap().unwrap().verdict, OkxVerdict::Waiting);
    }

    #[test]
    fn wire_units_and_other_messages() {
        // swap: the book in base (0.0001 BTC per unit), the wire in contracts (0.01 per lot, ctVal 0.01)
        let mut b = Book::new(spec("0.1", "0.0001"));
        let wire = spec("0.1", "0.01");
        let snap = msg("snapshot", r#"["100","1.5","0","1"]"#, r#"["100.1","2","0","1"]"#, -1, 1, 0);
        b.apply_okx_books(snap.as_bytes(), "BTC-USDT", Some(&wire)).unwrap();
        assert_eq!(b.best_bid(), Some((1000, 150)));
        let want = okx_checksum(&[("100", "1.5")], &[("100.1", "2")]);
        assert_eq!(b.okx_book_checksum(Some(&wire)), want);
        assert_eq!(b.apply_okx_books(snap.as_bytes(), "ETH-USDT", None).unwrap(), None);
        let trades =
            br#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"px":"1","ts":"1"},{"px":"2","ts":"2"}]}"#;
        assert_eq!(b.apply_okx_books(trades, "BTC-USDT", None).unwrap(), None);
        let event = br#"{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a4d3ae55"}"#;
        assert_eq!(b.apply_okx_books(event, "BTC-USDT", None).unwrap(), None);
        let other = msg("snapshot", r#"["1","1"],["2","1"]"#, "", -1, 1, 0).replace("BTC-USDT", "ETH-USDT");
        assert_eq!(b.apply_okx_books(other.as_bytes(), "BTC-USDT", None).unwrap(), None);
        for bad in [
            &br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"bids":[["100.01","1"]],"seqId":2,"prevSeqId":1}]}"#[..],
            br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"bids":[],"prevSeqId":1}]}"#,
            br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"sideways","data":[{"bids":[],"seqId":2,"prevSeqId":1}]}"#,
            br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"bids":[["100","1"]"#,
            br#"{"action":"update","data":[],"arg":{"channel":"books","instId":"BTC-USDT"}}"#,
        ] {
            assert!(b.apply_okx_books(bad, "BTC-USDT", Some(&wire)).is_err(), "{}", String::from_utf8_lossy(bad));
            assert_eq!(b.best_bid(), Some((1000, 150)));
        }
    }
}
