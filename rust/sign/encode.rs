//! Parameter encodings: `application/x-www-form-urlencoded` (as Python's `urllib.parse.urlencode`)
//! and compact JSON objects.

use std::fmt::Write;

/// A request parameter value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Param {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl Param {
    fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Param::Str(s) => s.as_str().into(),
            Param::Int(i) => i.to_string().into(),
            Param::Bool(b) => if *b { "true" } else { "false" }.into(),
        }
    }
}

/// Percent-encode like `urllib.parse.quote_plus`: unreserved bytes stay, space becomes `+`.
pub fn form_escape(out: &mut String, s: &str) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

/// `k1=v1&k2=v2` in the given order, both sides escaped.
pub fn form(params: &[(String, Param)]) -> String {
    let mut out = String::with_capacity(params.len() * 24);
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        form_escape(&mut out, k);
        out.push('=');
        form_escape(&mut out, &v.text());
    }
    out
}

pub(crate) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A compact JSON object (`{"k":"v","n":1,"b":true}`) in the given key order; empty params give "".
pub fn json_object(params: &[(String, Param)]) -> String {
    if params.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(params.len() * 24 + 2);
    out.push('{');
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(&mut out, k);
        out.push(':');
        match v {
            Param::Str(s) => json_str(&mut out, s),
            Param::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Param::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(k: &str, v: Param) -> (String, Param) {
        (k.to_owned(), v)
    }

    #[test]
    fn form_like_urlencode() {
        let params = vec![
            p("symbol", Param::Str("BTC/USD x".into())),
            p("qty", Param::Int(5)),
            p("reduceOnly", Param::Bool(true)),
            p("id", Param::Str("a:b~c".into())),
        ];
        assert_eq!(form(&params), "symbol=BTC%2FUSD+x&qty=5&reduceOnly=true&id=a%3Ab~c");
        assert_eq!(form(&[p("s", Param::Str("１".into()))]), "s=%EF%BC%91");
    }

    #[test]
    fn compact_json() {
        let params =
            vec![p("a", Param::Str("x\"y\\\n\u{1}é".into())), p("n", Param::Int(-3)), p("b", Param::Bool(false))];
        let s = json_object(&params);
        assert_eq!(s, "{\"a\":\"x\\\"y\\\\\\n\\u0001é\",\"n\":-3,\"b\":false}");
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["a"], "x\"y\\\n\u{1}é");
        assert_eq!(json_object(&[]), "");
    }
}
