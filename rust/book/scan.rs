//! A small zero-copy JSON scanner for venue book messages.
//!
//! Venue depth messages are flat objects whose numbers arrive as strings; walking the bytes once
//! and converting levels on the fly is several times faster than building a serde value. The
//! scanner accepts exactly JSON (RFC 8259) for the parts it walks and skips everything else
//! structurally, so a malformed message is rejected, never half-read.

pub(crate) type ScanResult<T> = Result<T, String>;

pub(crate) struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Scanner { b, i: 0 }
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn err<T>(&self, what: &str) -> ScanResult<T> {
        Err(format!("{what} at byte {}", self.i))
    }

    #[inline]
    fn expect(&mut self, c: u8) -> ScanResult<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            self.err(&format!("expected '{}'", c as char))
        }
    }

    /// A string without escapes (keys and numeric strings never carry any).
    #[inline]
    pub(crate) fn plain_string(&mut self) -> ScanResult<&'a str> {
        self.expect(b'"')?;
        let start = self.i;
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'"' => {
                    let s = std::str::from_utf8(&self.b[start..self.i]).or_else(|_| self.err("invalid UTF-8"))?;
                    self.i += 1;
                    return Ok(s);
                }
                b'\\' => return self.err("unexpected escape in a numeric string"),
                c if c < 0x20 => return self.err("control character in a string"),
                _ => self.i += 1,
            }
        }
        self.err("unterminated string")
    }

    pub(crate) fn uint(&mut self) -> ScanResult<u64> {
        self.ws();
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(&c) = self.b.get(self.i) {
            if !c.is_ascii_digit() {
                break;
            }
            v = v.checked_mul(10).and_then(|v| v.checked_add(u64::from(c - b'0'))).ok_or("integer overflow")?;
            self.i += 1;
        }
        if self.i == start || matches!(self.b.get(self.i), Some(b'.' | b'e' | b'E')) {
            return self.err("expected an unsigned integer");
        }
        Ok(v)
    }

    /// A key: a string whose escapes (if any) are left as they are; callers compare it to plain names.
    fn key(&mut self) -> ScanResult<&'a str> {
        self.ws();
        self.skip_string() // validated once, as it is skipped
    }

    /// Skip a string (escapes checked) and return its raw text between the quotes.
    fn skip_string(&mut self) -> ScanResult<&'a str> {
        self.expect(b'"')?;
        let start = self.i;
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'"' => {
                    let b: &'a [u8] = self.b;
                    let text = std::str::from_utf8(&b[start..self.i]).or_else(|_| self.err("invalid UTF-8"))?;
                    self.i += 1;
                    return Ok(text);
                }
                b'\\' => {
                    let Some(&e) = self.b.get(self.i + 1) else { return self.err("unterminated escape") };
                    if e == b'u' {
                        let hex = self.b.get(self.i + 2..self.i + 6).ok_or("short \\u escape")?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return self.err("bad \\u escape");
                        }
                        self.i += 6;
                    } else if matches!(e, b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') {
                        self.i += 2;
                    } else {
                        return self.err("bad escape");
                    }
                }
                c if c < 0x20 => return self.err("control character in a string"),
                _ => self.i += 1,
            }
        }
        self.err("unterminated string")
    }

    fn skip_number(&mut self) -> ScanResult<()> {
        let b = self.b;
        let mut i = self.i;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
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
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                return self.err("bad number");
            }
        }
        self.i = i;
        Ok(())
    }

    fn literal(&mut self, lit: &[u8]) -> ScanResult<()> {
        if self.b[self.i..].starts_with(lit) {
            self.i += lit.len();
            Ok(())
        } else {
            self.err("bad literal")
        }
    }

    /// The exact bytes `lit` next (after whitespace): consumed, true; else nothing consumed, false. A fast
    /// path for a venue's usual layout (`{"price":`), the general walk being the fallback.
    #[inline]
    pub(crate) fn take_if(&mut self, lit: &[u8]) -> bool {
        self.ws();
        if self.b[self.i..].starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    /// Where the scanner is, to come back to with `reset` when a fast path does not fit.
    #[inline]
    pub(crate) fn mark(&self) -> usize {
        self.i
    }

    #[inline]
    pub(crate) fn reset(&mut self, mark: usize) {
        self.i = mark;
    }

    /// Skip any JSON value, checking its structure.
    pub(crate) fn skip_value(&mut self, depth: u32) -> ScanResult<()> {
        if depth > 64 {
            return self.err("nesting too deep");
        }
        match self.peek() {
            Some(b'"') => self.skip_string().map(|_| ()),
            Some(b'{') => self.object(|s, _| s.skip_value(depth + 1)),
            Some(b'[') => self.array(|s| s.skip_value(depth + 1)),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.skip_number(),
            _ => self.err("expected a value"),
        }
    }

    /// Walk an object, handing each key to `f`, which must consume the value.
    pub(crate) fn object(&mut self, mut f: impl FnMut(&mut Self, &'a str) -> ScanResult<()>) -> ScanResult<()> {
        self.expect(b'{')?;
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            let key = self.key()?;
            self.expect(b':')?;
            f(self, key)?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return self.err("expected ',' or '}'"),
            }
        }
    }

    /// Walk an array, calling `f` for each element, which must consume it.
    pub(crate) fn array(&mut self, mut f: impl FnMut(&mut Self) -> ScanResult<()>) -> ScanResult<()> {
        self.expect(b'[')?;
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            f(self)?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return self.err("expected ',' or ']'"),
            }
        }
    }

    /// `[["price","qty"], ...]`: each level's first two elements are strings; any extra elements
    /// (OKX sends four) are skipped.
    pub(crate) fn string_pairs(&mut self, mut f: impl FnMut(&'a str, &'a str) -> ScanResult<()>) -> ScanResult<()> {
        self.array(|s| {
            s.expect(b'[')?;
            let p = s.plain_string()?;
            s.expect(b',')?;
            let q = s.plain_string()?;
            while s.peek() == Some(b',') {
                s.i += 1;
                s.skip_value(1)?;
            }
            s.expect(b']')?;
            f(p, q)
        })
    }

    /// A number given as a JSON string (`"0.48"`) or a bare JSON number (`0.48`), as its text.
    pub(crate) fn numeric(&mut self) -> ScanResult<&'a str> {
        if self.peek() == Some(b'"') {
            return self.plain_string();
        }
        let start = self.i;
        self.skip_number()?;
        std::str::from_utf8(&self.b[start..self.i]).or_else(|_| self.err("invalid UTF-8"))
    }

    /// `null` (consumed: true) or anything else (left in place: false).
    pub(crate) fn null(&mut self) -> ScanResult<bool> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Only whitespace may follow the document.
    pub(crate) fn end(&mut self) -> ScanResult<()> {
        if self.peek().is_some() {
            return self.err("trailing characters");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip_all(doc: &str) -> ScanResult<()> {
        let mut s = Scanner::new(doc.as_bytes());
        s.skip_value(0)?;
        s.end()
    }

    #[test]
    fn accepts_json_and_rejects_non_json() {
        for ok in
            [r#"{"a":[1,-2.5e3,0,"x\"y\\u00e9",true,false,null,{}],"b":{"c":[]}}"#, " [ ] ", r#""\ud83d\ude00""#, "0"]
        {
            assert!(skip_all(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\":}",
            "{\"a\" 1}",
            "01",
            "1.",
            "-",
            "tru",
            "\"abc",
            "[1] x",
            "{\"a\":1,}",
            "\"\\x\"",
            "\"\u{1}\"",
            "[\"\\u12\"]",
        ] {
            assert!(skip_all(bad).is_err(), "{bad:?}");
        }
        assert!(skip_all(&"[".repeat(100)).is_err());
    }

    /// The scanner agrees with serde_json on which documents are JSON.
    #[test]
    fn agrees_with_serde_on_validity() {
        use proptest::prelude::*;
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(&"[\\[\\]{}\",:a-z0-9.\\-eE \\\\]{0,24}", |doc| {
                let ours = skip_all(&doc).is_ok();
                let theirs = serde_json::from_str::<serde_json::Value>(&doc).is_ok();
                prop_assert_eq!(ours, theirs, "{:?}", doc);
                Ok(())
            })
            .unwrap();
    }
}
