//! Value types shared by the book, the rate limiter and the risk gate: exact decimals, sides and the
//! instrument spec that converts venue decimal strings to integer units and back.
//!
//! Prices and sizes are `i64` counts of a unit (`price_unit`, `qty_unit`); notional values are `i128`
//! counts of 10^-18 of the quote currency. Nothing on the order path is a binary float.

use crate::error::{clip, CoreError, CoreResult};

/// Notional values are integers in units of 10^-NOTIONAL_SCALE of the quote currency.
pub const NOTIONAL_SCALE: u32 = 18;
const MAX_SCALE: u32 = 30;

#[inline]
pub(crate) fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

/// An exact decimal: `mantissa * 10^-scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dec {
    pub mantissa: i128,
    pub scale: u32,
}

impl Dec {
    pub const ZERO: Dec = Dec { mantissa: 0, scale: 0 };

    /// Parse `[+-]digits[.digits][e[+-]digits]`. No whitespace, no NaN or infinity, at most 38
    /// significant digits and 30 decimal places.
    pub fn parse(s: &str) -> CoreResult<Dec> {
        let bad = |reason: &'static str| CoreError::InvalidDecimal { input: clip(s), reason };
        let b = s.as_bytes();
        let mut i = 0;
        let mut neg = false;
        if let Some(&c) = b.first() {
            if c == b'-' || c == b'+' {
                neg = c == b'-';
                i = 1;
            }
        }
        let mut mant: i128 = 0;
        let mut scale: i64 = 0;
        let mut digits = 0u32;
        let mut any = false;
        let mut dot = false;
        while i < b.len() {
            match b[i] {
                c @ b'0'..=b'9' => {
                    any = true;
                    if mant != 0 || c != b'0' {
                        digits += 1;
                        if digits > 38 {
                            return Err(bad("more than 38 significant digits"));
                        }
                    }
                    mant = mant * 10 + i128::from(c - b'0');
                    if dot {
                        scale += 1;
                    }
                }
                b'.' if !dot => dot = true,
                b'e' | b'E' => break,
                _ => return Err(bad("not a decimal number")),
            }
            i += 1;
        }
        if !any {
            return Err(bad("no digits"));
        }
        if i < b.len() {
            // exponent
            let e = &s[i + 1..];
            if e.is_empty() || e.len() > 4 {
                return Err(bad("bad exponent"));
            }
            let exp: i64 = e.parse().map_err(|_| bad("bad exponent"))?;
            scale -= exp;
        }
        if scale < 0 {
            let f = pow10(u32::try_from(-scale).map_err(|_| bad("exponent out of range"))?)
                .ok_or_else(|| bad("exponent out of range"))?;
            mant = mant.checked_mul(f).ok_or_else(|| bad("out of range"))?;
            scale = 0;
        }
        if scale > i64::from(MAX_SCALE) {
            return Err(bad("more than 30 decimal places"));
        }
        Ok(Dec { mantissa: if neg { -mant } else { mant }, scale: scale as u32 })
    }

    /// The same value with trailing fractional zeros removed.
    pub fn normalized(self) -> Dec {
        let mut d = self;
        while d.scale > 0 && d.mantissa % 10 == 0 {
            d.mantissa /= 10;
            d.scale -= 1;
        }
        d
    }

    /// The mantissa of this value expressed at a larger or equal `scale`.
    pub fn mantissa_at(self, scale: u32) -> Option<i128> {
        if scale < self.scale {
            return None;
        }
        self.mantissa.checked_mul(pow10(scale - self.scale)?)
    }

    /// This value as an exact integer count of `unit`; `None` when it is not a whole multiple or overflows.
    pub fn div_exact(self, unit: Dec) -> Option<i128> {
        let s = self.scale.max(unit.scale);
        let a = self.mantissa_at(s)?;
        let b = unit.mantissa_at(s)?;
        if b == 0 || a % b != 0 {
            return None;
        }
        Some(a / b)
    }

    pub fn is_positive(self) -> bool {
        self.mantissa > 0
    }
}

impl std::fmt::Display for Dec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_scaled(self.mantissa, self.scale))
    }
}

/// Format `mantissa * 10^-scale` with exactly `scale` decimal places.
pub fn format_scaled(mantissa: i128, scale: u32) -> String {
    let neg = mantissa < 0;
    let digits = mantissa.unsigned_abs().to_string();
    let scale = scale as usize;
    let mut out = String::with_capacity(digits.len() + scale + 3);
    if neg {
        out.push('-');
    }
    if scale == 0 {
        out.push_str(&digits);
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else {
        out.push_str("0.");
        for _ in 0..(scale - digits.len()) {
            out.push('0');
        }
        out.push_str(&digits);
    }
    out
}

/// Format a notional (10^-18 units) as a plain decimal string without trailing zeros.
pub fn format_notional(n: i128) -> String {
    Dec { mantissa: n, scale: NOTIONAL_SCALE }.normalized().to_string()
}

/// Parse a decimal string into notional units (10^-18), exactly.
pub fn parse_notional(s: &str) -> CoreResult<i128> {
    let d = Dec::parse(s)?;
    d.mantissa_at(NOTIONAL_SCALE).ok_or_else(|| CoreError::InvalidDecimal {
        input: clip(s),
        reason: "needs more than 18 decimal places or is out of range",
    })
}

/// Order side. `Buy` lifts asks, `Sell` hits bids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    #[inline]
    pub fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
    #[inline]
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

/// One instrument's trading rules, with prices and quantities counted in integer units.
///
/// `price_unit` / `qty_unit` are the integer units (by default the tick and lot size); `tick` and
/// `lot` are the valid steps counted in those units (a venue may change the tick without changing the
/// unit, e.g. Polymarket's `tick_size_change`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentSpec {
    pub price_unit: Dec,
    pub qty_unit: Dec,
    pub tick: i64,
    pub lot: i64,
    pub min_qty: i64,
    /// 0 means no venue maximum.
    pub max_qty: i64,
    /// Minimum notional in 10^-18 quote units.
    pub min_notional: i128,
    /// Notional of one price unit times one qty unit, in 10^-18 quote units.
    pub notional_factor: i128,
}

fn positive_dec(name: &str, s: &str) -> CoreResult<Dec> {
    let d = Dec::parse(s)?.normalized();
    if !d.is_positive() {
        return Err(CoreError::InvalidSpec(format!("{name} must be > 0, got {}", clip(s))));
    }
    Ok(d)
}

/// Fast exact conversion when the unit is exactly 10^-scale: digits go straight into an `i64`.
/// Returns `None` for anything unusual (exponent, sign, overflow, digits below the unit), and the
/// caller falls back to the general path, which also produces the error message.
#[inline]
fn units_pow10(s: &[u8], scale: u32) -> Option<i64> {
    let mut v: i64 = 0;
    let mut frac = 0u32;
    let mut dot = false;
    let mut any = false;
    for &c in s {
        match c {
            b'0'..=b'9' => {
                any = true;
                if dot {
                    if frac == scale {
                        if c != b'0' {
                            return None;
                        }
                        continue;
                    }
                    frac += 1;
                }
                v = v.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
            }
            b'.' if !dot => dot = true,
            _ => return None,
        }
    }
    if !any {
        return None;
    }
    v.checked_mul(10i64.checked_pow(scale - frac)?)
}

fn steps_of(what: &'static str, value: Dec, unit: Dec) -> CoreResult<i64> {
    value.div_exact(unit).and_then(|v| i64::try_from(v).ok()).ok_or_else(|| CoreError::NotOnStep {
        what,
        value: value.to_string(),
        step: unit.to_string(),
    })
}

impl InstrumentSpec {
    /// Build a spec from the venue's decimal strings. Values that are not exact multiples of their unit
    /// are rejected, as are specs whose notional needs more than 18 decimal places.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tick_size: &str,
        lot_size: &str,
        min_qty: Option<&str>,
        max_qty: Option<&str>,
        min_notional: Option<&str>,
        price_unit: Option<&str>,
        qty_unit: Option<&str>,
    ) -> CoreResult<InstrumentSpec> {
        let tick_d = positive_dec("tick_size", tick_size)?;
        let lot_d = positive_dec("lot_size", lot_size)?;
        let price_unit = match price_unit {
            Some(s) => positive_dec("price_unit", s)?,
            None => tick_d,
        };
        let qty_unit = match qty_unit {
            Some(s) => positive_dec("qty_unit", s)?,
            None => lot_d,
        };
        let tick = steps_of("tick_size", tick_d, price_unit)?;
        let lot = steps_of("lot_size", lot_d, qty_unit)?;
        let min_qty = match min_qty {
            Some(s) => {
                let d = Dec::parse(s)?;
                if d.mantissa < 0 {
                    return Err(CoreError::InvalidSpec("min_qty must be >= 0".into()));
                }
                steps_of("min_qty", d, qty_unit)?
            }
            None => 0,
        };
        let max_qty = match max_qty {
            Some(s) => steps_of("max_qty", positive_dec("max_qty", s)?, qty_unit)?,
            None => 0,
        };
        if max_qty != 0 && max_qty < min_qty {
            return Err(CoreError::InvalidSpec("max_qty is below min_qty".into()));
        }
        let min_notional = match min_notional {
            Some(s) => {
                let n = parse_notional(s)?;
                if n < 0 {
                    return Err(CoreError::InvalidSpec("min_notional must be >= 0".into()));
                }
                n
            }
            None => 0,
        };
        let scale = price_unit.scale + qty_unit.scale;
        if scale > NOTIONAL_SCALE {
            return Err(CoreError::InvalidSpec(format!(
                "price_unit x qty_unit needs {scale} decimal places; at most {NOTIONAL_SCALE} are supported"
            )));
        }
        let notional_factor = price_unit
            .mantissa
            .checked_mul(qty_unit.mantissa)
            .and_then(|m| m.checked_mul(pow10(NOTIONAL_SCALE - scale)?))
            .ok_or(CoreError::Overflow("notional factor"))?;
        Ok(InstrumentSpec { price_unit, qty_unit, tick, lot, min_qty, max_qty, min_notional, notional_factor })
    }

    /// Convert a venue price string to price units; rejects values that are not whole units.
    #[inline]
    pub fn price_units(&self, s: &str) -> CoreResult<i64> {
        if self.price_unit.mantissa == 1 {
            if let Some(v) = units_pow10(s.as_bytes(), self.price_unit.scale) {
                return Ok(v);
            }
        }
        steps_of("price", Dec::parse(s)?, self.price_unit)
    }

    /// Convert a venue quantity string to qty units; rejects values that are not whole units.
    #[inline]
    pub fn qty_units(&self, s: &str) -> CoreResult<i64> {
        if self.qty_unit.mantissa == 1 {
            if let Some(v) = units_pow10(s.as_bytes(), self.qty_unit.scale) {
                return Ok(v);
            }
        }
        steps_of("quantity", Dec::parse(s)?, self.qty_unit)
    }

    /// Format price units as the venue's decimal string (at the unit's precision).
    pub fn format_price(&self, units: i64) -> String {
        format_scaled(i128::from(units) * self.price_unit.mantissa, self.price_unit.scale)
    }

    /// Format qty units as the venue's decimal string (at the unit's precision).
    pub fn format_qty(&self, units: i64) -> String {
        format_scaled(i128::from(units) * self.qty_unit.mantissa, self.qty_unit.scale)
    }

    /// Notional of `qty` units at `price` units, in 10^-18 quote units; `None` on overflow.
    #[inline]
    pub fn notional(&self, price: i64, qty: i64) -> Option<i128> {
        i128::from(price).checked_mul(i128::from(qty))?.checked_mul(self.notional_factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimals() {
        assert_eq!(Dec::parse("123.450").unwrap(), Dec { mantissa: 123450, scale: 3 });
        assert_eq!(Dec::parse("-0.5").unwrap(), Dec { mantissa: -5, scale: 1 });
        assert_eq!(Dec::parse("1e-8").unwrap(), Dec { mantissa: 1, scale: 8 });
        assert_eq!(Dec::parse("1.5E3").unwrap(), Dec { mantissa: 1500, scale: 0 });
        assert_eq!(Dec::parse("7.").unwrap(), Dec { mantissa: 7, scale: 0 });
        assert_eq!(Dec::parse(".25").unwrap(), Dec { mantissa: 25, scale: 2 });
        for bad in ["", "-", ".", "nan", "inf", "1,5", " 1", "1.2.3", "1e", "1e99999", "0x10"] {
            assert!(Dec::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(Dec::parse(&"9".repeat(39)).is_err());
        assert!(Dec::parse(&format!("0.{}1", "0".repeat(30))).is_err());
    }

    #[test]
    fn formats_decimals() {
        assert_eq!(format_scaled(12345, 2), "123.45");
        assert_eq!(format_scaled(5, 3), "0.005");
        assert_eq!(format_scaled(-5, 1), "-0.5");
        assert_eq!(format_scaled(42, 0), "42");
        assert_eq!(format_notional(1_500_000_000_000_000_000), "1.5");
    }

    #[test]
    fn spec_converts_exactly() {
        let s = InstrumentSpec::new("0.01", "0.00100000", Some("0.001"), None, Some("5"), None, None).unwrap();
        assert_eq!(s.price_units("100.25").unwrap(), 10025);
        assert_eq!(s.price_units("100.2500000").unwrap(), 10025);
        assert!(matches!(s.price_units("100.255"), Err(CoreError::NotOnStep { .. })));
        assert_eq!(s.qty_units("1.5").unwrap(), 1500);
        assert_eq!(s.format_price(10025), "100.25");
        assert_eq!(s.format_qty(1500), "1.500");
        // 100.25 * 1.5 = 150.375
        assert_eq!(s.notional(10025, 1500), Some(150_375_000_000_000_000_000));
        assert_eq!(s.min_notional, 5_000_000_000_000_000_000);
    }

    proptest::proptest! {
        #[test]
        fn fast_unit_path_agrees_with_the_general_one(int in 0u64..10_000_000, frac in "[0-9]{0,12}", scale in 0u32..10) {
            let s = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
            let unit = Dec { mantissa: 1, scale };
            let general = Dec::parse(&s).unwrap().div_exact(unit).and_then(|v| i64::try_from(v).ok());
            let fast = units_pow10(s.as_bytes(), scale);
            if let Some(f) = fast {
                proptest::prop_assert_eq!(Some(f), general);
            } else {
                proptest::prop_assert!(general.is_none(), "fast path refused {s} at scale {scale}");
            }
        }
    }

    #[test]
    fn spec_rejects_bad_values() {
        assert!(InstrumentSpec::new("0", "1", None, None, None, None, None).is_err());
        assert!(InstrumentSpec::new("-0.1", "1", None, None, None, None, None).is_err());
        assert!(InstrumentSpec::new("0.01", "1", Some("0.5"), None, None, None, None).is_err());
        // tick not a multiple of the price unit
        assert!(InstrumentSpec::new("0.015", "1", None, None, None, Some("0.01"), None).is_err());
        // too many decimal places for the notional scale
        assert!(InstrumentSpec::new("1e-10", "1e-10", None, None, None, None, None).is_err());
        let s = InstrumentSpec::new("0.01", "1", None, None, None, Some("0.001"), None).unwrap();
        assert_eq!(s.tick, 10);
    }
}
