use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::book::checksum::{kraken_checksum, okx_checksum};

fn spec() -> InstrumentSpec {
    InstrumentSpec::new("0.01", "0.00001", None, None, None, None, None).unwrap()
}

const DEPTH: &str = include_str!("../../tests/vectors/binance_depth.json");
const KRAKEN: &str = include_str!("../../tests/vectors/kraken_checksum.json");
const OKX: &str = include_str!("../../tests/vectors/okx_checksum.json");

fn vector(src: &str) -> serde_json::Value {
    serde_json::from_str(src).unwrap()
}

fn pairs(v: &serde_json::Value) -> Vec<(String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| (l[0].as_str().unwrap().to_owned(), l[1].as_str().unwrap().to_owned()))
        .collect()
}

fn borrowed(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

#[test]
fn queries_on_a_small_book() {
    let mut b = Book::new(spec());
    b.apply_snapshot(&[(100, 5), (99, 7)], &[(102, 3), (103, 10)], 1).unwrap();
    assert_eq!(b.best_bid(), Some((100, 5)));
    assert_eq!(b.best_ask(), Some((102, 3)));
    assert_eq!(b.mid_x2(), Some(202));
    assert_eq!(b.spread(), Some(2));
    assert_eq!(b.depth(Side::Sell, 5), vec![(102, 3), (103, 10)]);
    let f = b.fill_estimate(Side::Buy, 5).unwrap();
    assert_eq!(f, FillEstimate { filled: 5, cost: 102 * 3 + 103 * 2, worst_price: 103 });
    let f = b.fill_estimate(Side::Sell, 100).unwrap();
    assert_eq!(f.filled, 12);
    assert_eq!(b.imbalance(1), Some((5.0 - 3.0) / 8.0));
    b.set_level(Side::Buy, 102, 1).unwrap();
    assert!(b.is_locked() && !b.is_crossed());
    b.set_level(Side::Buy, 103, 1).unwrap();
    assert!(b.is_crossed());
    b.set_level(Side::Buy, 103, 0).unwrap();
    b.set_level(Side::Buy, 102, 0).unwrap();
    assert_eq!(b.best_bid(), Some((100, 5)));
    assert!(b.set_level(Side::Buy, 1, -1).is_err());
    assert!(b.apply_snapshot(&[(1, -1)], &[], 2).is_err());
    assert_eq!(b.best_bid(), Some((100, 5)), "a rejected snapshot changes nothing");
}

#[test]
fn binance_vector_applies_after_snapshot() {
    let v = vector(DEPTH);
    let mut b = Book::new(spec());
    let snap = serde_json::to_vec(&v["snapshot"]).unwrap();
    let diff = serde_json::to_vec(&v["diff"]).unwrap();
    assert!(matches!(b.apply_binance_depth(&diff), Err(CoreError::BookNotReady(_))));
    assert_eq!(b.apply_binance_snapshot(&snap).unwrap(), 1000);
    assert!(b.apply_binance_depth(&diff).unwrap());
    assert_eq!(b.seq.last_id, 1020);
    // every level of the message is in the book with its exact quantity
    let s = spec();
    for (key, side) in [("b", Side::Buy), ("a", Side::Sell)] {
        for (p, q) in pairs(&v["diff"][key]) {
            assert_eq!(b.ladder(side).qty_at(s.price_units(&p).unwrap()), s.qty_units(&q).unwrap());
        }
    }
    // replay is stale, the next id applies, a gap invalidates
    assert!(!b.apply_binance_depth(&diff).unwrap());
    let next = br#"{"e":"depthUpdate","U":1021,"u":1022,"b":[["1.00","1"]],"a":[]}"#;
    assert!(b.apply_binance_depth(next).unwrap());
    let gap = br#"{"e":"depthUpdate","U":1030,"u":1031,"b":[],"a":[]}"#;
    assert_eq!(b.apply_binance_depth(gap), Err(CoreError::SequenceGap { expected: 1023, got: 1030 }));
    assert_eq!(b.seq.state, SeqState::Invalid { expected: 1023, got: 1030 });
}

#[test]
fn binance_combined_stream_and_futures() {
    let mut b = Book::new(spec());
    b.apply_snapshot(&[], &[], 100).unwrap();
    let m = br#"{"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":90,"u":105,"pu":89,"b":[["10.00","1.5"]],"a":[]}}"#;
    assert!(b.apply_binance_depth(m).unwrap());
    assert_eq!(b.best_bid(), Some((1000, 150000)));
    let m = br#"{"e":"depthUpdate","U":106,"u":110,"pu":105,"b":[["10.00","0"]],"a":[["11.00","2"]]}"#;
    assert!(b.apply_binance_depth(m).unwrap());
    assert_eq!(b.best_bid(), None);
    let m = br#"{"e":"depthUpdate","U":112,"u":115,"pu":111,"b":[],"a":[]}"#;
    assert!(matches!(b.apply_binance_depth(m), Err(CoreError::SequenceGap { .. })));
}

#[test]
fn malformed_binance_messages_change_nothing() {
    let mut b = Book::new(spec());
    b.apply_snapshot(&[(100, 1)], &[(200, 1)], 10).unwrap();
    for bad in [
        &b"not json"[..],
        br#"{"U":11,"u":12,"b":[["1.001","1"]],"a":[]}"#,
        br#"{"U":11,"u":12,"b":[["1.00","-1"]],"a":[]}"#,
        br#"{"U":11,"u":12,"b":[["abc","1"]],"a":[]}"#,
        br#"{"U":11,"u":12,"b":[[1.0,"1"]],"a":[]}"#,
        br#"{"U":13,"u":12,"b":[],"a":[]}"#,
        br#"{"u":12,"b":[],"a":[]}"#,
        br#"{"U":11,"u":12,"b":[["2.00","1"],["1.00"]],"a":[]}"#,
    ] {
        let before = (b.depth(Side::Buy, 10), b.depth(Side::Sell, 10), b.seq.last_id);
        let err = b.apply_binance_depth(bad).unwrap_err();
        assert!(matches!(err, CoreError::Parse { .. }), "{err:?}");
        assert_eq!(before, (b.depth(Side::Buy, 10), b.depth(Side::Sell, 10), b.seq.last_id));
        assert_eq!(b.seq.state, SeqState::Valid);
    }
}

#[test]
fn kraken_documented_checksum() {
    let v = vector(KRAKEN);
    let asks = pairs(&v["asks"]);
    let bids = pairs(&v["bids"]);
    let want = v["checksum"].as_u64().unwrap() as u32;
    assert_eq!(kraken_checksum(&borrowed(&asks), &borrowed(&bids)), want);
    // and from a book holding the same levels in units, re-formatted at the pair's precision
    let s = InstrumentSpec::new("0.1", "0.00000001", None, None, None, None, None).unwrap();
    let mut b = Book::new(s.clone());
    let conv = |l: &[(String, String)]| -> Vec<(i64, i64)> {
        l.iter().map(|(p, q)| (s.price_units(p).unwrap(), s.qty_units(q).unwrap())).collect()
    };
    b.apply_snapshot(&conv(&bids), &conv(&asks), 0).unwrap();
    assert_eq!(b.kraken_checksum(1, 8).unwrap(), want);
    assert_ne!(b.kraken_checksum(2, 8).unwrap(), want);
    assert!(b.kraken_checksum(0, 8).is_err(), "formatting below the unit precision loses digits");
}

#[test]
fn okx_documented_checksums() {
    let v = vector(OKX);
    for case in v["cases"].as_array().unwrap() {
        let bids = pairs(&case["bids"]);
        let asks = pairs(&case["asks"]);
        assert_eq!(i64::from(okx_checksum(&borrowed(&bids), &borrowed(&asks))), case["checksum"].as_i64().unwrap());
    }
}

/// Reference model: a hash map per side, sorted on every query.
#[derive(Default)]
struct RefBook {
    bids: HashMap<i64, i64>,
    asks: HashMap<i64, i64>,
}

impl RefBook {
    fn sorted(&self, side: Side) -> Vec<(i64, i64)> {
        let m = if side == Side::Buy { &self.bids } else { &self.asks };
        let mut v: Vec<_> = m.iter().map(|(p, q)| (*p, *q)).collect();
        v.sort();
        if side == Side::Buy {
            v.reverse();
        }
        v
    }
}

#[derive(Debug, Clone)]
enum Op {
    Set(bool, i64, i64),
    Snapshot(Vec<(i64, i64)>, Vec<(i64, i64)>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (any::<bool>(), 1i64..60, prop_oneof![Just(0i64), 1i64..1000]).prop_map(|(b, p, q)| Op::Set(b, p, q)),
        1 => (prop::collection::vec((1i64..60, 1i64..1000), 0..10), prop::collection::vec((1i64..60, 1i64..1000), 0..10))
            .prop_map(|(b, a)| Op::Snapshot(b, a)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn book_matches_reference(ops in prop::collection::vec(op(), 1..200), n in 1usize..8, want in 1i64..3000) {
        let mut b = Book::new(spec());
        let mut r = RefBook::default();
        for o in ops {
            match o {
                Op::Set(is_bid, p, q) => {
                    let side = if is_bid { Side::Buy } else { Side::Sell };
                    b.set_level(side, p, q).unwrap();
                    let m = if is_bid { &mut r.bids } else { &mut r.asks };
                    if q == 0 { m.remove(&p); } else { m.insert(p, q); }
                }
                Op::Snapshot(bids, asks) => {
                    b.apply_snapshot(&bids, &asks, 0).unwrap();
                    r.bids = bids.into_iter().collect();
                    r.asks = asks.into_iter().collect();
                }
            }
            let rb = r.sorted(Side::Buy);
            let ra = r.sorted(Side::Sell);
            prop_assert_eq!(b.best_bid(), rb.first().copied());
            prop_assert_eq!(b.best_ask(), ra.first().copied());
            prop_assert_eq!(b.depth(Side::Buy, n), rb.iter().take(n).copied().collect::<Vec<_>>());
            prop_assert_eq!(b.depth(Side::Sell, n), ra.iter().take(n).copied().collect::<Vec<_>>());
            let crossed = matches!((rb.first(), ra.first()), (Some(x), Some(y)) if x.0 > y.0);
            prop_assert_eq!(b.is_crossed(), crossed);
            // walking the asks for `want`
            let mut left = want;
            let mut cost = 0i128;
            for (p, q) in &ra {
                let t = (*q).min(left);
                cost += i128::from(*p) * i128::from(t);
                left -= t;
            }
            let est = b.fill_estimate(Side::Buy, want);
            if left == want {
                prop_assert!(est.is_none());
            } else {
                let e = est.unwrap();
                prop_assert_eq!(e.filled, want - left);
                prop_assert_eq!(e.cost, cost);
            }
        }
    }

    #[test]
    fn binance_stream_matches_reference(updates in prop::collection::vec(
        (prop::collection::vec((1i64..40, 0i64..500), 0..6), prop::collection::vec((1i64..40, 0i64..500), 0..6), 1u64..4), 1..40)) {
        let s = spec();
        let mut b = Book::new(s.clone());
        b.apply_snapshot(&[], &[], 0).unwrap();
        let mut r = RefBook::default();
        let mut id = 0u64;
        for (bids, asks, n) in updates {
            let fmt = |l: &[(i64, i64)]| l.iter()
                .map(|(p, q)| format!("[\"{}\",\"{}\"]", s.format_price(*p), s.format_qty(*q)))
                .collect::<Vec<_>>().join(",");
            let msg = format!(r#"{{"e":"depthUpdate","U":{},"u":{},"b":[{}],"a":[{}]}}"#, id + 1, id + n, fmt(&bids), fmt(&asks));
            prop_assert!(b.apply_binance_depth(msg.as_bytes()).unwrap());
            id += n;
            for (p, q) in bids { if q == 0 { r.bids.remove(&p); } else { r.bids.insert(p, q); } }
            for (p, q) in asks { if q == 0 { r.asks.remove(&p); } else { r.asks.insert(p, q); } }
            prop_assert_eq!(b.depth(Side::Buy, 100), r.sorted(Side::Buy));
            prop_assert_eq!(b.depth(Side::Sell, 100), r.sorted(Side::Sell));
        }
    }
}
