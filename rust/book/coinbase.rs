//! Coinbase Advanced Trade `level2` messages, parsed from raw bytes and applied in one call.
//!
//! `{"channel":"l2_data","client_id":"","timestamp":"..","sequence_num":7,"events":[{"type":"snapshot"|
//! "update","product_id":"BTC-USD","updates":[{"side":"bid"|"offer","event_time":"..","price_level":
//! "59999.99","new_quantity":"0.021"}]}]}`: `new_quantity` is the level's new size (0 removes it). A
//! snapshot replaces the book; `sequence_num` counts every message of the connection (all channels), so
//! the connector checks it (`coinbase_head` reads it, the channel and the time without reading the
//! events) and this parser only returns it.
//!
//! The walk is this file's own: the message is checked as UTF-8 once, then strings are skipped eight
//! bytes at a time (a level is mostly its `event_time`), keys are compared as bytes, and sizes go from
//! their text straight to integer units into the book's reused scratch buffer: nothing is allocated per
//! message and no Python object is made per level.

use super::Book;
use crate::error::{clip, CoreError, CoreResult};
use crate::types::{InstrumentSpec, Side};

type Res<T> = Result<T, String>;

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

/// The envelope of any Coinbase WebSocket message, read without its events: the channel, the
/// connection's `sequence_num`, and `timestamp` in ns since the epoch (0 when absent or Coinbase's zero
/// time `0001-01-01T00:00:00Z`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Head<'a> {
    pub channel: Option<&'a str>,
    pub sequence: Option<u64>,
    pub ts_ns: i64,
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The bytes of a little-endian word that stop a string skip: `"`, `\` or a control character (below
/// 0x20), as their high bits. The lowest flagged byte is always a real one (a borrow only flags bytes
/// above a real hit), which is the only one used.
#[inline]
fn stops(w: u64) -> u64 {
    let q = w ^ (LO * u64::from(b'"'));
    let e = w ^ (LO * u64::from(b'\\'));
    ((q.wrapping_sub(LO) & !q) | (e.wrapping_sub(LO) & !e) | (w.wrapping_sub(LO * 0x20) & !w)) & HI
}

/// The first byte at or after `i` that stops a string skip (`"`, `\` or a control character), or the
/// length of `b`.
#[inline]
fn stop_at(b: &[u8], mut i: usize) -> usize {
    while let Some(w) = b.get(i..i + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let hit = stops(u64::from_le_bytes(w));
        if hit != 0 {
            return i + (hit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while b.get(i).is_some_and(|&c| c != b'"' && c != b'\\' && c >= 0x20) {
        i += 1;
    }
    i
}

/// A walk over one message, checked as UTF-8 once. It accepts exactly JSON (RFC 8259) for what it
/// walks and skips the rest structurally, so a malformed message is rejected, never half-read. Keys and
/// values come back as slices of the message (escapes left as they are; the names compared never have
/// any).
struct Cursor<'a> {
    t: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(raw: &'a [u8]) -> Res<Self> {
        let t = std::str::from_utf8(raw).map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?;
        Ok(Cursor { t, i: 0 })
    }

    #[inline]
    fn b(&self) -> &'a [u8] {
        self.t.as_bytes()
    }

    fn err<T>(&self, what: &str) -> Res<T> {
        Err(format!("{what} at byte {}", self.i))
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        let b = self.b();
        while let Some(&c) = b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Res<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            return Ok(());
        }
        self.err(&format!("expected '{}'", c as char))
    }

    /// A string's text between its quotes, and whether it holds an escape.
    #[inline]
    fn string(&mut self) -> Res<(&'a str, bool)> {
        self.eat(b'"')?;
        let (b, start) = (self.b(), self.i);
        let mut escaped = false;
        loop {
            self.i = stop_at(b, self.i);
            match b.get(self.i) {
                Some(b'"') => {
                    let s = self.t.get(start..self.i).ok_or("string not on a character boundary")?;
                    self.i += 1;
                    return Ok((s, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                Some(&c) if c < 0x20 => return self.err("control character in a string"),
                Some(_) => self.i += 1,
                None => return self.err("unterminated string"),
            }
        }
    }

    fn escape(&mut self) -> Res<()> {
        let b = self.b();
        match b.get(self.i + 1) {
            Some(b'u') => {
                let hex = b.get(self.i + 2..self.i + 6).ok_or("short \\u escape")?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return self.err("bad \\u escape");
                }
                self.i += 6;
            }
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 2,
            Some(_) => return self.err("bad escape"),
            None => return self.err("unterminated escape"),
        }
        Ok(())
    }

    /// A string without escapes (names and numbers never carry any).
    #[inline]
    fn plain(&mut self) -> Res<&'a str> {
        match self.string()? {
            (s, false) => Ok(s),
            (_, true) => self.err("unexpected escape"),
        }
    }

    fn uint(&mut self) -> Res<u64> {
        self.peek();
        let (b, start) = (self.b(), self.i);
        let mut v: u64 = 0;
        while let Some(&c) = b.get(self.i).filter(|c| c.is_ascii_digit()) {
            v = v.checked_mul(10).and_then(|v| v.checked_add(u64::from(c - b'0'))).ok_or("integer overflow")?;
            self.i += 1;
        }
        let leading_zero = self.i - start > 1 && b[start] == b'0';
        if self.i == start || leading_zero || matches!(b.get(self.i), Some(b'.' | b'e' | b'E')) {
            return self.err("expected an unsigned integer");
        }
        Ok(v)
    }

    fn skip_number(&mut self) -> Res<()> {
        let b = self.b();
        let mut i = self.i + usize::from(b.get(self.i) == Some(&b'-'));
        let digits = |i: &mut usize| {
            let s = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - s
        };
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(c) if c.is_ascii_digit() => {
                digits(&mut i);
            }
            _ => return self.err("bad number"),
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if digits(&mut i) == 0 {
                return self.err("bad number");
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            i += usize::from(matches!(b.get(i), Some(b'+' | b'-')));
            if digits(&mut i) == 0 {
                return self.err("bad number");
            }
        }
        self.i = i;
        Ok(())
    }

    /// A number as a JSON string (`"0.48"`) or a bare JSON number, as its text.
    #[inline]
    fn numeric(&mut self) -> Res<&'a str> {
        if self.peek() == Some(b'"') {
            return self.plain();
        }
        let start = self.i;
        self.skip_number()?;
        self.t.get(start..self.i).ok_or_else(|| "bad number".into())
    }

    fn literal(&mut self, lit: &str) -> Res<()> {
        if self.b()[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            return Ok(());
        }
        self.err("bad literal")
    }

    /// Skip any JSON value, checking its structure.
    fn skip_value(&mut self, depth: u32) -> Res<()> {
        if depth > 64 {
            return self.err("nesting too deep");
        }
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'{') => self.object(|s, _| s.skip_value(depth + 1)),
            Some(b'[') => self.array(|s| s.skip_value(depth + 1)),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.skip_number(),
            _ => self.err("expected a value"),
        }
    }

    /// After a member or an element: true at `,`, false at the closing `close`.
    #[inline]
    fn more(&mut self, close: u8) -> Res<bool> {
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                Ok(true)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(false)
            }
            _ => self.err(&format!("expected ',' or '{}'", close as char)),
        }
    }

    /// Walk an object, handing each key to `f`, which must consume its value.
    #[inline]
    fn object(&mut self, mut f: impl FnMut(&mut Self, &'a str) -> Res<()>) -> Res<()> {
        self.eat(b'{')?;
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            let (key, _) = self.string()?;
            self.eat(b':')?;
            f(self, key)?;
            if !self.more(b'}')? {
                return Ok(());
            }
        }
    }

    /// Walk an array, calling `f` for each element, which must consume it.
    #[inline]
    fn array(&mut self, mut f: impl FnMut(&mut Self) -> Res<()>) -> Res<()> {
        self.eat(b'[')?;
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            f(self)?;
            if !self.more(b']')? {
                return Ok(());
            }
        }
    }

    /// Only whitespace may follow the document.
    fn end(&mut self) -> Res<()> {
        match self.peek() {
            Some(_) => self.err("trailing characters"),
            None => Ok(()),
        }
    }
}

/// An `updates` entry exactly as Coinbase lays it out (`{"side":"..","event_time":"..","price_level":
/// "..","new_quantity":".."}`, no whitespace, no escapes): its side, price and size, read by their literal
/// keys. `None` (nothing consumed) for any other layout, which the general walk then reads.
#[inline]
fn update_as_sent<'a>(c: &mut Cursor<'a>) -> Option<(&'a str, &'a str, &'a str)> {
    let mut i = c.i;
    let side = value_after(c.t, &mut i, br#"{"side":""#)?;
    value_after(c.t, &mut i, br#","event_time":""#)?;
    let price = value_after(c.t, &mut i, br#","price_level":""#)?;
    let qty = value_after(c.t, &mut i, br#","new_quantity":""#)?;
    (c.b().get(i) == Some(&b'}')).then_some(())?;
    c.i = i + 1;
    Some((side, price, qty))
}

/// The plain string value after the literal `key` (its opening quote included) at `t[*i..]`, moving `*i`
/// past its closing quote. The key's length is known when compiled, so the comparison is inlined.
#[inline(always)]
fn value_after<'a, const N: usize>(t: &'a str, i: &mut usize, key: &[u8; N]) -> Option<&'a str> {
    let b = t.as_bytes();
    (b.get(*i..*i + N)? == key).then_some(())?;
    let start = *i + N;
    let end = stop_at(b, start);
    (b.get(end) == Some(&b'"')).then_some(())?;
    *i = end + 1;
    t.get(start..end)
}

/// One `updates` entry into `out`, converted to the spec's units.
#[inline]
fn update(c: &mut Cursor<'_>, spec: &InstrumentSpec, out: &mut Vec<(Side, i64, i64)>) -> Res<()> {
    c.peek();
    let (side, p, q) = match update_as_sent(c) {
        Some(level) => level,
        None => {
            let (mut side, mut price, mut qty) = (None, None, None);
            c.object(|c, k| match k {
                "side" => c.plain().map(|v| side = Some(v)),
                "price_level" => c.numeric().map(|v| price = Some(v)),
                "new_quantity" => c.numeric().map(|v| qty = Some(v)),
                _ => c.skip_value(1),
            })?;
            let (Some(side), Some(p), Some(q)) = (side, price, qty) else {
                return Err("level2 update without side, price_level or new_quantity".into());
            };
            (side, p, q)
        }
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

/// What the walk over a message found for the product.
#[derive(Default)]
struct Found<'a> {
    channel: Option<&'a str>,
    sequence: Option<u64>,
    any: bool,
    snapshot: bool,
}

/// One `events` entry: the product's levels into `scratch` (a snapshot drops what came before it);
/// another product's are checked for structure only, not converted with this product's units.
fn event<'a>(
    c: &mut Cursor<'a>,
    spec: &InstrumentSpec,
    product_id: &str,
    scratch: &mut Vec<(Side, i64, i64)>,
    found: &mut Found<'a>,
) -> Res<()> {
    let start = scratch.len();
    let (mut kind, mut product, mut later) = (None, None, None);
    c.object(|c, k| match k {
        "type" => c.plain().map(|v| kind = Some(v)),
        "product_id" => c.plain().map(|v| product = Some(v)),
        "updates" => match product {
            Some(p) if p == product_id => c.array(|c| update(c, spec, scratch)),
            Some(_) => c.skip_value(1),
            None => {
                later = Some(c.i); // the product comes after its updates: read them once it is known
                c.skip_value(1)
            }
        },
        _ => c.skip_value(1),
    })?;
    if product != Some(product_id) {
        return Ok(());
    }
    if let Some(at) = later {
        Cursor { t: c.t, i: at }.array(|c| update(c, spec, scratch))?;
    }
    found.any = true;
    if kind == Some("snapshot") {
        scratch.drain(..start); // the snapshot supersedes what came before it
        found.snapshot = true;
    }
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
        let mut found = Found::default();
        let mut c = Cursor::new(raw).map_err(malformed)?;
        c.object(|c, k| match k {
            "channel" => c.plain().map(|v| found.channel = Some(v)),
            "sequence_num" => c.uint().map(|v| found.sequence = Some(v)),
            "events" => c.array(|c| event(c, spec, product_id, scratch, &mut found)),
            _ => c.skip_value(1),
        })
        .and_then(|()| c.end())
        .map_err(malformed)?;
        if found.channel != Some("l2_data") || !found.any {
            self.scratch.clear();
            return Ok(None);
        }
        let sequence = found.sequence.ok_or_else(|| malformed("l2_data without sequence_num"))?;
        let snapshot = found.snapshot;
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

/// Read a Coinbase message's envelope (channel, `sequence_num`, `timestamp`) without its events: the walk
/// stops at `events` once the three are known (Coinbase sends them first), so a connector can check the
/// connection's sequence and route the message for the cost of its first hundred bytes. The events are
/// not checked here; whoever reads them does. A malformed envelope or time errors with `Parse`.
pub fn coinbase_head(raw: &[u8]) -> CoreResult<Head<'_>> {
    let mut c = Cursor::new(raw).map_err(malformed)?;
    let (mut head, mut ts) = (Head::default(), None);
    envelope(&mut c, &mut head, &mut ts).map_err(malformed)?;
    if let Some(t) = ts {
        head.ts_ns = rfc3339_ns(t).ok_or_else(|| malformed(format!("bad timestamp {:?}", clip(t))))?;
    }
    Ok(head)
}

fn envelope<'a>(c: &mut Cursor<'a>, head: &mut Head<'a>, ts: &mut Option<&'a str>) -> Res<()> {
    c.eat(b'{')?;
    if c.peek() == Some(b'}') {
        c.i += 1;
        return c.end();
    }
    loop {
        let (key, _) = c.string()?;
        c.eat(b':')?;
        match key {
            "channel" => head.channel = Some(c.plain()?),
            "sequence_num" => head.sequence = Some(c.uint()?),
            "timestamp" => *ts = Some(c.plain()?),
            "events" if head.channel.is_some() && head.sequence.is_some() && ts.is_some() => return Ok(()),
            _ => c.skip_value(1)?,
        }
        if !c.more(b'}')? {
            return c.end();
        }
    }
}

/// `n` ASCII digits at `s[at..]` as a number.
fn digits(s: &[u8], at: usize, n: usize) -> Option<i64> {
    let d = s.get(at..at + n)?;
    d.iter().try_fold(0i64, |v, &c| c.is_ascii_digit().then(|| v * 10 + i64::from(c - b'0')))
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An RFC 3339 time (`2026-12-05T01:13:37.233281510Z`, any fraction, `Z` or `±HH:MM`) in ns since the
/// epoch; digits past the ninth are dropped; Coinbase's zero time (year 1) is 0.
fn rfc3339_ns(t: &str) -> Option<i64> {
    let s = t.as_bytes();
    if s.starts_with(b"0001-") {
        return Some(0);
    }
    let (y, mo, d) = (digits(s, 0, 4)?, digits(s, 5, 2)?, digits(s, 8, 2)?);
    let (h, mi, sec) = (digits(s, 11, 2)?, digits(s, 14, 2)?, digits(s, 17, 2)?);
    let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if !seps.iter().all(|&(i, c)| s.get(i) == Some(&c)) || !matches!(s.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let days_in_month = *month_days.get(usize::try_from(mo - 1).ok()?)?;
    if !(1..=days_in_month).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let mut i = 19;
    let mut frac = 0i64;
    if s.get(i) == Some(&b'.') {
        i += 1;
        let n = s[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let kept = n.min(9);
        frac = digits(s, i, kept)? * 10i64.pow(9 - kept as u32);
        i += n;
    }
    let offset = match s.get(i..)? {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (oh, om) = (digits(s, i + 1, 2)?, digits(s, i + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            (oh * 3600 + om * 60) * if *sign == b'-' { -1 } else { 1 }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    secs.checked_mul(1_000_000_000)?.checked_add(frac)
}

#[cfg(test)]
#[path = "coinbase_tests.rs"]
mod tests;
