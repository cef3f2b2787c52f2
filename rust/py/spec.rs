//! `InstrumentSpec`, `Side` and the module-level decimal helpers.

use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::PyType;

use super::errors::PyResultExt;
use crate::types::{format_notional, parse_notional, InstrumentSpec, Side};

/// Order side.
#[pyclass(module = "trader._core", name = "Side", eq, eq_int, frozen, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PySide {
    #[pyo3(name = "BUY")]
    Buy,
    #[pyo3(name = "SELL")]
    Sell,
}

impl From<PySide> for Side {
    #[inline]
    fn from(s: PySide) -> Side {
        match s {
            PySide::Buy => Side::Buy,
            PySide::Sell => Side::Sell,
        }
    }
}

impl From<Side> for PySide {
    #[inline]
    fn from(s: Side) -> PySide {
        match s {
            Side::Buy => PySide::Buy,
            Side::Sell => PySide::Sell,
        }
    }
}

/// One instrument's trading rules; converts venue decimal strings to integer units and back.
#[pyclass(module = "trader._core", name = "InstrumentSpec", frozen)]
#[derive(Clone)]
pub(crate) struct PySpec {
    pub(crate) inner: InstrumentSpec,
}

#[pymethods]
impl PySpec {
    #[new]
    #[pyo3(signature = (tick_size, lot_size, *, min_qty=None, max_qty=None, min_notional=None, price_unit=None, qty_unit=None))]
    fn new(
        tick_size: &str,
        lot_size: &str,
        min_qty: Option<&str>,
        max_qty: Option<&str>,
        min_notional: Option<&str>,
        price_unit: Option<&str>,
        qty_unit: Option<&str>,
    ) -> PyResult<Self> {
        let inner =
            InstrumentSpec::new(tick_size, lot_size, min_qty, max_qty, min_notional, price_unit, qty_unit).py()?;
        Ok(PySpec { inner })
    }

    #[getter]
    fn tick_size(&self) -> String {
        self.inner.format_price(self.inner.tick)
    }
    #[getter]
    fn lot_size(&self) -> String {
        self.inner.format_qty(self.inner.lot)
    }
    #[getter]
    fn price_unit(&self) -> String {
        self.inner.price_unit.to_string()
    }
    #[getter]
    fn qty_unit(&self) -> String {
        self.inner.qty_unit.to_string()
    }
    /// Tick size counted in price units.
    #[getter]
    fn tick(&self) -> i64 {
        self.inner.tick
    }
    /// Lot size counted in qty units.
    #[getter]
    fn lot(&self) -> i64 {
        self.inner.lot
    }
    #[getter]
    fn min_qty(&self) -> i64 {
        self.inner.min_qty
    }
    #[getter]
    fn max_qty(&self) -> Option<i64> {
        (self.inner.max_qty > 0).then_some(self.inner.max_qty)
    }
    #[getter]
    fn min_notional(&self) -> String {
        format_notional(self.inner.min_notional)
    }

    fn price_to_units(&self, price: &str) -> PyResult<i64> {
        self.inner.price_units(price).py()
    }
    fn qty_to_units(&self, qty: &str) -> PyResult<i64> {
        self.inner.qty_units(qty).py()
    }
    fn format_price(&self, units: i64) -> String {
        self.inner.format_price(units)
    }
    fn format_qty(&self, units: i64) -> String {
        self.inner.format_qty(units)
    }
    fn notional(&self, py: Python<'_>, price: i64, qty: i64) -> PyResult<PyObject> {
        let n = self.inner.notional(price, qty).ok_or(crate::error::CoreError::Overflow("notional")).py()?;
        to_decimal(py, n)
    }

    fn __repr__(&self) -> String {
        format!(
            "InstrumentSpec(tick_size='{}', lot_size='{}', min_qty='{}', min_notional='{}')",
            self.tick_size(),
            self.lot_size(),
            self.inner.format_qty(self.inner.min_qty),
            self.min_notional()
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.downcast::<PySpec>().is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let s = &self.inner;
        (s.price_unit.mantissa, s.price_unit.scale, s.qty_unit.mantissa, s.qty_unit.scale, s.tick, s.lot).hash(&mut h);
        (s.min_qty, s.max_qty, s.min_notional).hash(&mut h);
        h.finish()
    }
}

static DECIMAL: GILOnceCell<Py<PyType>> = GILOnceCell::new();

/// A notional (10^-18 units) as a `decimal.Decimal`.
pub(crate) fn to_decimal(py: Python<'_>, n: i128) -> PyResult<PyObject> {
    let cls = DECIMAL.import(py, "decimal", "Decimal")?;
    Ok(cls.call1((format_notional(n),))?.unbind())
}

/// Parse a decimal string (or anything whose `str()` is one, like `Decimal`) into notional units.
pub(crate) fn notional_arg(v: &Bound<'_, PyAny>) -> PyResult<i128> {
    let s = v.str()?;
    parse_notional(s.to_str()?).py()
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySide>()?;
    m.add_class::<PySpec>()?;
    Ok(())
}
