//! Tests of `coinbase.rs`: the level2 walk, the envelope and times.

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

#[test]
fn other_products_are_structure_only_and_order_of_keys_is_free() {
    let mut b = book();
    // ETH-USD's level is off BTC-USD's price unit: it must not be converted with it; the BTC event
    // names its product after its updates.
    let msg = br#" {"events":[{"product_id":"ETH-USD","type":"update","updates":[{"side":"bid","price_level":"1.001","new_quantity":"1"}]},
        {"updates":[ {"new_quantity":"1","price_level":"100.00","event_time":"x\"y\\u00e9","side":"bid"} ],"type":"snapshot","product_id":"BTC-USD"}],
        "sequence_num":4,"channel":"l2_data"} "#;
    let r = b.apply_coinbase_level2(msg, "BTC-USD").unwrap().unwrap();
    assert_eq!(r, Level2 { sequence: 4, snapshot: true, applied: 1 });
    assert_eq!(b.best_bid(), Some((10_000, 100_000_000)));
    let bad_other = br#"{"channel":"l2_data","sequence_num":5,"events":[{"product_id":"ETH-USD","type":"update","updates":[{"side":"bid",}]}]}"#;
    assert!(b.apply_coinbase_level2(bad_other, "BTC-USD").is_err());
    assert!(b.apply_coinbase_level2(b"{\"channel\":\"l2_data\",\"x\":\"\xff\"}", "BTC-USD").is_err());
    let escaped_side = br#"{"channel":"l2_data","sequence_num":5,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"b\u0069d","price_level":"1","new_quantity":"1"}]}]}"#;
    assert!(b.apply_coinbase_level2(escaped_side, "BTC-USD").is_err());
    assert_eq!(b.best_bid(), Some((10_000, 100_000_000)));
}

/// The layout Coinbase sends is read by its literal keys; anything that differs from it by a byte is
/// read by the general walk, which accepts or rejects it as JSON.
#[test]
fn the_layout_as_sent_and_its_neighbours() {
    let wrap = |levels: &str| {
        format!(
            r#"{{"channel":"l2_data","sequence_num":1,"events":[{{"type":"snapshot","product_id":"BTC-USD","updates":[{levels}]}}]}}"#
        )
    };
    let as_sent = r#"{"side":"bid","event_time":"2026-12-05T01:13:37Z","price_level":"100.00","new_quantity":"1"}"#;
    for (levels, ok) in [
        (as_sent.to_owned(), true),
        (as_sent.replace("2026", r"\u0032026"), true),
        (as_sent.replace(r#""1"}"#, r#""1" }"#), true),
        (as_sent.replace(r#""1"}"#, "1}"), true),
        (as_sent.replace(r#"{"side""#, r#"{ "side""#), true),
        (as_sent.replace("100.00", "100.001"), false),
        (as_sent.replace("100.00", "1e2"), true),
        (as_sent.replace(r#""1"}"#, r#""1","#), false),
        (as_sent.replace(r#""1"}"#, r#""1"]"#), false),
        (as_sent.replace("bid", "b\u{1}d"), false),
        (as_sent.replace(r#""side":"bid""#, r#""side":"bid","side":"offer""#), true),
        (format!("{as_sent},{as_sent}"), true),
        (format!("{as_sent} x"), false),
    ] {
        let mut b = book();
        let r = b.apply_coinbase_level2(wrap(&levels).as_bytes(), "BTC-USD");
        assert_eq!(r.is_ok(), ok, "{levels}");
        if ok {
            assert!(b.best_bid().is_some() || b.best_ask().is_some(), "{levels}");
        }
    }
}

/// Strings of every length around the eight-byte skip, with quotes, escapes and control characters
/// at every position: the fast skip agrees with a byte-by-byte reading.
#[test]
fn string_skip_agrees_with_bytes() {
    for n in 0..20 {
        for at in 0..n {
            // a quote ends the string early; a lone backslash, a control byte or broken UTF-8 fail
            for (c, len) in [(b'"', Some(at)), (b'\\', None), (0x1f, None), (b'a', Some(n)), (0xc3, None)] {
                let mut s = vec![b'x'; n];
                s[at] = c;
                let doc = [b"\"".as_slice(), &s, b"\""].concat();
                let r = Cursor::new(&doc).and_then(|mut c| c.string().map(|(v, _)| v.len()));
                assert_eq!(r.ok(), len, "{n} {at} {c}");
            }
            let mut s = vec![b'x'; n];
            s[at] = b'\\';
            s.insert(at + 1, b'"');
            let doc = [b"\"".as_slice(), &s, b"\""].concat();
            let mut c = Cursor::new(&doc).unwrap();
            assert_eq!(c.string().unwrap(), (std::str::from_utf8(&s).unwrap(), true));
            assert!(c.end().is_ok());
        }
    }
    assert_eq!(Cursor::new("\"h\u{e9}llo w\u{f6}rld, caf\u{e9}\"".as_bytes()).unwrap().string().unwrap().0.len(), 20);
}

#[test]
fn head_reads_the_envelope() {
    let msgs = messages();
    let h = coinbase_head(msgs[0].as_bytes()).unwrap();
    assert_eq!(h.channel, Some("l2_data"));
    assert!(h.sequence.is_some());
    assert!(h.ts_ns > 1_700_000_000_000_000_000);
    let late =
        br#"{"events":[{"a":1}],"timestamp":"2026-12-05T01:13:37.233281510Z","sequence_num":9,"channel":"user"}"#;
    let h = coinbase_head(late).unwrap();
    assert_eq!((h.channel, h.sequence, h.ts_ns), (Some("user"), Some(9), 1_796_433_217_233_281_510));
    let bare = coinbase_head(br#"{"type":"error","message":"bad"}"#).unwrap();
    assert_eq!(bare, Head::default());
    for bad in [&b"{"[..], br#"{"channel":1}"#, br#"{"timestamp":"2026-13-01T00:00:00Z"}"#, b"[]", br#"{} x"#] {
        assert!(coinbase_head(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn times() {
    for (t, ns) in [
        ("1970-01-01T00:00:00Z", Some(0)),
        ("0001-01-01T00:00:00Z", Some(0)),
        ("2026-12-05T01:13:37.233281510Z", Some(1_796_433_217_233_281_510)),
        ("2026-12-05T01:13:37.2332815109999Z", Some(1_796_433_217_233_281_510)),
        ("2026-12-05T02:13:37.5+01:00", Some(1_796_433_217_500_000_000)),
        ("2024-02-29T00:00:00-00:30", Some(1_709_166_600_000_000_000)),
        ("1969-12-31T23:59:59Z", Some(-1_000_000_000)),
        ("2023-02-29T00:00:00Z", None),
        ("2026-12-05T24:00:00Z", None),
        ("2026-12-05T01:13:37.Z", None),
        ("2026-12-05T01:13:37", None),
        ("2026-12-05T01:13:37Zx", None),
        ("2026-12-05X01:13:37Z", None),
        ("2026-1-05T01:13:37Z", None),
    ] {
        assert_eq!(rfc3339_ns(t), ns, "{t}");
    }
}
