//! `RiskGate`, `Approval`, `Denial` and their enums.

use pyo3::prelude::*;
use pyo3::types::PyInt;

use super::errors::{invalid, PyResultExt};
use super::spec::{notional_arg, to_decimal, PySide, PySpec};
use crate::risk::{
    rate_from_notional, Approval, AssetLimits, CurrencyLimits, Denial, DenyReason, GlobalLimits, InstrumentLimits,
    OrderRequest, OrderType, RiskGate, Scope, StrategyLimits, TimeInForce, TradingState, VenueLimits, RATE_ONE,
};

macro_rules! py_enum {
    ($(#[$m:meta])* $py:ident, $pyname:literal, $core:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        $(#[$m])*
        #[pyclass(module = "trader._core", name = $pyname, eq, eq_int, frozen, hash)]
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum $py {
            $( #[pyo3(name = $name)] $variant ),+
        }
        impl From<$py> for $core {
            fn from(v: $py) -> $core { match v { $( $py::$variant => <$core>::$variant ),+ } }
        }
        impl From<$core> for $py {
            fn from(v: $core) -> $py { match v { $( <$core>::$variant => $py::$variant ),+ } }
        }
    };
}

py_enum!(
    /// ACTIVE, REDUCING (only position-reducing orders) or HALTED (no new orders).
    PyTradingState, "TradingState", TradingState { Active => "ACTIVE", Reducing => "REDUCING", Halted => "HALTED" }
);
py_enum!(PyOrderType, "OrderType", OrderType { Limit => "LIMIT", Market => "MARKET" });
py_enum!(PyTif, "TimeInForce", TimeInForce { Gtc => "GTC", Ioc => "IOC", Fok => "FOK", Gtd => "GTD" });
py_enum!(
    /// Why the gate denied an order.
    PyDenyReason, "DenyReason", DenyReason {
        UnknownInstrument => "UNKNOWN_INSTRUMENT",
        UnknownStrategy => "UNKNOWN_STRATEGY",
        KillSwitch => "KILL_SWITCH",
        TradingHalted => "TRADING_HALTED",
        TradingReducing => "TRADING_REDUCING",
        DailyLossLimit => "DAILY_LOSS_LIMIT",
        InstrumentNotTradable => "INSTRUMENT_NOT_TRADABLE",
        InvalidQuantity => "INVALID_QUANTITY",
        InvalidPrice => "INVALID_PRICE",
        NumericOverflow => "NUMERIC_OVERFLOW",
        PriceNotOnTick => "PRICE_NOT_ON_TICK",
        QtyNotOnLot => "QTY_NOT_ON_LOT",
        BelowMinQty => "BELOW_MIN_QTY",
        MaxOrderQty => "MAX_ORDER_QTY",
        BelowMinNotional => "BELOW_MIN_NOTIONAL",
        MaxOrderNotional => "MAX_ORDER_NOTIONAL",
        InvalidExpiry => "INVALID_EXPIRY",
        NoReferencePrice => "NO_REFERENCE_PRICE",
        ReferenceFromFuture => "REFERENCE_FROM_FUTURE",
        PriceCollar => "PRICE_COLLAR",
        ReduceOnlyWouldIncrease => "REDUCE_ONLY_WOULD_INCREASE",
        DuplicateIntent => "DUPLICATE_INTENT",
        SelfCross => "SELF_CROSS",
        PositionLimit => "POSITION_LIMIT",
        VenueExposureLimit => "VENUE_EXPOSURE_LIMIT",
        GrossExposureLimit => "GROSS_EXPOSURE_LIMIT",
        NetExposureLimit => "NET_EXPOSURE_LIMIT",
        OpenOrderLimit => "OPEN_ORDER_LIMIT",
        OrderRateLimit => "ORDER_RATE_LIMIT",
        CurrencyDepeg => "CURRENCY_DEPEG",
        AssetExposureLimit => "ASSET_EXPOSURE_LIMIT",
    }
);

/// An order the gate approved. Only the gate creates these; connectors accept nothing else.
#[pyclass(module = "trader._core", name = "Approval", frozen)]
pub(crate) struct PyApproval {
    pub(crate) inner: Approval,
}

#[pymethods]
impl PyApproval {
    #[getter]
    fn approved(&self) -> bool {
        true
    }
    #[getter]
    fn key(&self) -> u64 {
        self.inner.key()
    }
    #[getter]
    fn strategy(&self) -> u32 {
        self.inner.request().strategy
    }
    #[getter]
    fn instrument(&self) -> u32 {
        self.inner.request().instrument
    }
    #[getter]
    fn side(&self) -> PySide {
        self.inner.request().side.into()
    }
    #[getter]
    fn order_type(&self) -> PyOrderType {
        self.inner.request().order_type.into()
    }
    #[getter]
    fn price(&self) -> i64 {
        self.inner.request().price
    }
    #[getter]
    fn qty(&self) -> i64 {
        self.inner.request().qty
    }
    #[getter]
    fn tif(&self) -> PyTif {
        self.inner.request().tif.into()
    }
    #[getter]
    fn expire_ns(&self) -> u64 {
        self.inner.request().expire_ns
    }
    #[getter]
    fn reduce_only(&self) -> bool {
        self.inner.request().reduce_only
    }
    #[getter]
    fn post_only(&self) -> bool {
        self.inner.request().post_only
    }
    #[getter]
    fn approved_ns(&self) -> u64 {
        self.inner.approved_ns()
    }
    #[getter]
    fn notional(&self, py: Python<'_>) -> PyResult<PyObject> {
        to_decimal(py, self.inner.notional())
    }
    fn __bool__(&self) -> bool {
        true
    }
    fn __repr__(&self) -> String {
        let r = self.inner.request();
        format!(
            "Approval(key={}, strategy={}, instrument={}, side={:?}, price={}, qty={}, type={:?}, tif={:?})",
            self.inner.key(),
            r.strategy,
            r.instrument,
            r.side,
            r.price,
            r.qty,
            r.order_type,
            r.tif
        )
    }
}

/// A refused order: a typed reason and a one-line detail.
#[pyclass(module = "trader._core", name = "Denial", frozen)]
pub(crate) struct PyDenial {
    inner: Denial,
}

#[pymethods]
impl PyDenial {
    #[getter]
    fn approved(&self) -> bool {
        false
    }
    #[getter]
    fn reason(&self) -> PyDenyReason {
        self.inner.reason.into()
    }
    #[getter]
    fn detail(&self) -> &str {
        &self.inner.detail
    }
    fn __bool__(&self) -> bool {
        false
    }
    fn __repr__(&self) -> String {
        format!("Denial({:?}: {})", self.inner.reason, self.inner.detail)
    }
}

fn scope(venue: Option<u32>, strategy: Option<u32>) -> PyResult<Scope> {
    match (venue, strategy) {
        (None, None) => Ok(Scope::Global),
        (Some(v), None) => Ok(Scope::Venue(v)),
        (None, Some(s)) => Ok(Scope::Strategy(s)),
        (Some(_), Some(_)) => Err(invalid("give a venue or a strategy, not both")),
    }
}

/// Price or quantity argument: an int; an int beyond 64 bits is a NUMERIC_OVERFLOW denial.
enum IntArg {
    Ok(i64),
    Overflow,
}

#[inline]
fn int_arg(v: &Bound<'_, PyAny>, name: &str) -> PyResult<IntArg> {
    match v.extract::<i64>() {
        Ok(x) if !v.is_instance_of::<pyo3::types::PyBool>() => Ok(IntArg::Ok(x)),
        _ if v.is_instance_of::<PyInt>() && !v.is_instance_of::<pyo3::types::PyBool>() => Ok(IntArg::Overflow),
        _ => Err(invalid(format!(
            "{name} must be an int in integer units, got {}",
            v.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))),
    }
}

/// The one pre-trade risk gate. Every time-dependent call takes `now_ns`.
#[pyclass(module = "trader._core", name = "RiskGate")]
pub(crate) struct PyRiskGate {
    inner: RiskGate,
}

/// An order's request from the Python arguments of `check` / `rehearse`; a price or quantity beyond 64
/// bits is a `Denial`, not an error.
fn request(
    strategy: u32,
    instrument: u32,
    side: PySide,
    price: &Bound<'_, PyAny>,
    qty: &Bound<'_, PyAny>,
    (order_type, tif, expire_ns, reduce_only, post_only): (PyOrderType, PyTif, u64, bool, bool),
) -> PyResult<Result<OrderRequest, Denial>> {
    let (IntArg::Ok(price), IntArg::Ok(qty)) = (int_arg(price, "price")?, int_arg(qty, "qty")?) else {
        return Ok(Err(Denial {
            reason: DenyReason::NumericOverflow,
            detail: "price or quantity beyond 64 bits".into(),
        }));
    };
    Ok(Ok(OrderRequest {
        strategy,
        instrument,
        side: side.into(),
        order_type: order_type.into(),
        price,
        qty,
        tif: tif.into(),
        expire_ns,
        reduce_only,
        post_only,
    }))
}

#[pymethods]
impl PyRiskGate {
    #[new]
    #[pyo3(signature = (*, max_gross_notional, max_net_notional, max_open_orders, max_orders_per_sec, daily_loss_limit, daily_loss_halt=None, duplicate_window_ns=100_000_000, max_reference_age_ns=2_000_000_000))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        max_gross_notional: &Bound<'_, PyAny>,
        max_net_notional: &Bound<'_, PyAny>,
        max_open_orders: u32,
        max_orders_per_sec: u32,
        daily_loss_limit: &Bound<'_, PyAny>,
        daily_loss_halt: Option<&Bound<'_, PyAny>>,
        duplicate_window_ns: u64,
        max_reference_age_ns: u64,
    ) -> PyResult<Self> {
        let daily_loss_limit = notional_arg(daily_loss_limit)?;
        let limits = GlobalLimits {
            max_gross_notional: notional_arg(max_gross_notional)?,
            max_net_notional: notional_arg(max_net_notional)?,
            max_open_orders,
            max_orders_per_sec,
            daily_loss_limit,
            daily_loss_halt: daily_loss_halt.map(notional_arg).transpose()?.unwrap_or(daily_loss_limit),
            duplicate_window_ns,
            max_reference_age_ns,
        };
        Ok(PyRiskGate { inner: RiskGate::new(limits).py()? })
    }

    #[pyo3(signature = (name, *, max_gross_notional, max_open_orders, max_orders_per_sec=None, daily_loss_limit=None, daily_loss_halt=None, max_net_notional=None))]
    #[allow(clippy::too_many_arguments)] // the Python keyword arguments, one per limit
    fn add_venue(
        &mut self,
        name: &str,
        max_gross_notional: &Bound<'_, PyAny>,
        max_open_orders: u32,
        max_orders_per_sec: Option<u32>,
        daily_loss_limit: Option<&Bound<'_, PyAny>>,
        daily_loss_halt: Option<&Bound<'_, PyAny>>,
        max_net_notional: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u32> {
        let limits = VenueLimits {
            max_gross_notional: notional_arg(max_gross_notional)?,
            max_net_notional: max_net_notional.map(notional_arg).transpose()?,
            max_open_orders,
            max_orders_per_sec,
            daily_loss_limit: daily_loss_limit.map(notional_arg).transpose()?,
            daily_loss_halt: daily_loss_halt.map(notional_arg).transpose()?,
        };
        self.inner.add_venue(name, limits).py()
    }

    /// `rate` defaults to "1" (a currency pegged to the reporting currency).
    #[pyo3(signature = (name, rate=None, *, max_depeg_bps=None), text_signature = "($self, name, rate='1', *, max_depeg_bps=None)")]
    fn add_currency(
        &mut self,
        name: &str,
        rate: Option<&Bound<'_, PyAny>>,
        max_depeg_bps: Option<u32>,
    ) -> PyResult<u32> {
        let rate = match rate {
            Some(r) => rate_from_notional(notional_arg(r)?).py()?,
            None => RATE_ONE,
        };
        self.inner.add_currency(name, rate, CurrencyLimits { max_depeg_bps }).py()
    }

    fn set_rate(&mut self, currency: u32, rate: &Bound<'_, PyAny>) -> PyResult<()> {
        let rate = rate_from_notional(notional_arg(rate)?).py()?;
        self.inner.set_rate(currency, rate).py()
    }

    fn currency_rate(&self, py: Python<'_>, currency: u32) -> PyResult<PyObject> {
        to_decimal(py, self.inner.currency_rate(currency).py()? * (1_000_000_000_000_000_000 / RATE_ONE))
    }

    #[pyo3(signature = (name, *, max_net_notional, max_gross_notional=None))]
    fn add_asset(
        &mut self,
        name: &str,
        max_net_notional: &Bound<'_, PyAny>,
        max_gross_notional: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u32> {
        let limits = AssetLimits {
            max_net_notional: notional_arg(max_net_notional)?,
            max_gross_notional: max_gross_notional.map(notional_arg).transpose()?,
        };
        self.inner.add_asset(name, limits).py()
    }

    fn venue_daily_pnl(&self, py: Python<'_>, venue: u32) -> PyResult<PyObject> {
        to_decimal(py, self.inner.venue_daily_pnl(venue).py()?)
    }

    fn venue_gross_exposure(&self, py: Python<'_>, venue: u32) -> PyResult<PyObject> {
        to_decimal(py, self.inner.venue_gross_exposure(venue).py()?)
    }

    fn asset_exposure(&self, py: Python<'_>, asset: u32) -> PyResult<(PyObject, PyObject)> {
        let (l, s) = self.inner.asset_exposure(asset).py()?;
        Ok((to_decimal(py, l)?, to_decimal(py, s)?))
    }

    fn asset_net(&self, py: Python<'_>, asset: u32) -> PyResult<PyObject> {
        to_decimal(py, self.inner.asset_net(asset).py()?)
    }

    #[pyo3(signature = (name, *, max_orders_per_sec))]
    fn add_strategy(&mut self, name: &str, max_orders_per_sec: u32) -> PyResult<u32> {
        self.inner.add_strategy(name, StrategyLimits { max_orders_per_sec }).py()
    }

    #[pyo3(signature = (venue, symbol, spec, *, max_order_qty, max_order_notional, max_position, max_open_orders, collar_bps, currency=None, asset=None))]
    #[allow(clippy::too_many_arguments)]
    fn add_instrument(
        &mut self,
        venue: u32,
        symbol: &str,
        spec: &Bound<'_, PySpec>,
        max_order_qty: &Bound<'_, PyAny>,
        max_order_notional: &Bound<'_, PyAny>,
        max_position: &Bound<'_, PyAny>,
        max_open_orders: u32,
        collar_bps: u32,
        currency: Option<u32>,
        asset: Option<u32>,
    ) -> PyResult<u32> {
        let spec = spec.get().inner.clone();
        let limits = InstrumentLimits {
            max_order_qty: spec.qty_units(&max_order_qty.str()?.to_string()).py()?,
            max_order_notional: notional_arg(max_order_notional)?,
            max_position: spec.qty_units(&max_position.str()?.to_string()).py()?,
            max_open_orders,
            collar_bps,
        };
        self.inner.add_instrument_in(venue, symbol, spec, limits, currency, asset).py()
    }

    fn instrument_id(&self, venue: u32, symbol: &str) -> PyResult<u32> {
        self.inner.instrument_id(venue, symbol).py()
    }

    /// Check one order; returns an `Approval` (now tracked as in flight) or a `Denial`.
    #[pyo3(signature = (strategy, instrument, side, price, qty, now_ns, order_type=PyOrderType::Limit, tif=PyTif::Gtc, expire_ns=0, reduce_only=false, post_only=false))]
    #[allow(clippy::too_many_arguments)]
    fn check(
        &mut self,
        py: Python<'_>,
        strategy: u32,
        instrument: u32,
        side: PySide,
        price: &Bound<'_, PyAny>,
        qty: &Bound<'_, PyAny>,
        now_ns: u64,
        order_type: PyOrderType,
        tif: PyTif,
        expire_ns: u64,
        reduce_only: bool,
        post_only: bool,
    ) -> PyResult<PyObject> {
        let flags = (order_type, tif, expire_ns, reduce_only, post_only);
        let verdict = match request(strategy, instrument, side, price, qty, flags)? {
            Ok(req) => self.inner.check(&req, now_ns),
            Err(d) => Err(d),
        };
        Ok(match verdict {
            Ok(a) => Py::new(py, PyApproval { inner: a })?.into_any(),
            Err(d) => Py::new(py, PyDenial { inner: d })?.into_any(),
        })
    }

    /// The check without its effects (nothing admitted, no throttle consumed, no duplicate check): the
    /// engine's rehearsal of its last order, which keeps this code warm between orders. None when the
    /// order would pass the limits, else the `Denial`.
    #[pyo3(signature = (strategy, instrument, side, price, qty, now_ns, order_type=PyOrderType::Limit, tif=PyTif::Gtc, expire_ns=0, reduce_only=false, post_only=false))]
    #[allow(clippy::too_many_arguments)]
    fn rehearse(
        &self,
        py: Python<'_>,
        strategy: u32,
        instrument: u32,
        side: PySide,
        price: &Bound<'_, PyAny>,
        qty: &Bound<'_, PyAny>,
        now_ns: u64,
        order_type: PyOrderType,
        tif: PyTif,
        expire_ns: u64,
        reduce_only: bool,
        post_only: bool,
    ) -> PyResult<Option<PyObject>> {
        let flags = (order_type, tif, expire_ns, reduce_only, post_only);
        let verdict = match request(strategy, instrument, side, price, qty, flags)? {
            Ok(req) => self.inner.rehearse(&req, now_ns).map(|_| ()),
            Err(d) => Err(d),
        };
        match verdict {
            Ok(()) => Ok(None),
            Err(d) => Ok(Some(Py::new(py, PyDenial { inner: d })?.into_any())),
        }
    }

    fn set_reference(&mut self, instrument: u32, bid: i64, ask: i64, ts_ns: u64) -> PyResult<()> {
        self.inner.set_reference(instrument, bid, ask, ts_ns).py()
    }

    fn invalidate_reference(&mut self, instrument: u32) -> PyResult<()> {
        self.inner.invalidate_reference(instrument).py()
    }

    fn set_tradable(&mut self, instrument: u32, tradable: bool) -> PyResult<()> {
        self.inner.set_tradable(instrument, tradable).py()
    }

    fn on_ack(&mut self, key: u64) -> PyResult<()> {
        self.inner.on_ack(key).py()
    }

    fn on_unknown(&mut self, key: u64) -> PyResult<()> {
        self.inner.on_unknown(key).py()
    }

    #[pyo3(signature = (key, qty, price, fee="0"))]
    fn on_fill(&mut self, key: u64, qty: i64, price: i64, fee: &str) -> PyResult<()> {
        let fee = crate::types::parse_notional(fee).py()?;
        self.inner.on_fill(key, qty, price, fee).py()
    }

    #[pyo3(signature = (instrument, side, qty, price, fee="0"))]
    fn on_external_fill(&mut self, instrument: u32, side: PySide, qty: i64, price: i64, fee: &str) -> PyResult<()> {
        let fee = crate::types::parse_notional(fee).py()?;
        self.inner.on_external_fill(instrument, side.into(), qty, price, fee).py()
    }

    fn on_closed(&mut self, key: u64) -> PyResult<()> {
        self.inner.on_closed(key).py()
    }

    fn set_position(&mut self, instrument: u32, position: i64, avg_price: i64) -> PyResult<()> {
        self.inner.set_position(instrument, position, avg_price).py()
    }

    fn position(&self, instrument: u32) -> PyResult<i64> {
        Ok(self.inner.view(instrument).py()?.position)
    }

    fn open_quantity(&self, instrument: u32) -> PyResult<(i64, i64)> {
        let v = self.inner.view(instrument).py()?;
        Ok((v.open_buy, v.open_sell))
    }

    #[pyo3(signature = (state, *, venue=None, strategy=None))]
    fn set_trading_state(&mut self, state: PyTradingState, venue: Option<u32>, strategy: Option<u32>) -> PyResult<()> {
        self.inner.set_trading_state(scope(venue, strategy)?, state.into()).py()
    }

    #[pyo3(signature = (*, venue=None, strategy=None))]
    fn trading_state(&self, venue: Option<u32>, strategy: Option<u32>) -> PyResult<PyTradingState> {
        Ok(self.inner.trading_state(scope(venue, strategy)?).py()?.into())
    }

    #[pyo3(signature = (*, venue=None, strategy=None))]
    fn is_killed(&self, venue: Option<u32>, strategy: Option<u32>) -> PyResult<bool> {
        self.inner.is_killed(scope(venue, strategy)?).py()
    }

    #[pyo3(signature = (reason, now_ns, *, venue=None, strategy=None))]
    fn kill(&mut self, reason: &str, now_ns: u64, venue: Option<u32>, strategy: Option<u32>) -> PyResult<()> {
        self.inner.kill(scope(venue, strategy)?, reason, now_ns).py()
    }

    #[pyo3(signature = (operator, now_ns, *, venue=None, strategy=None))]
    fn reset_kill(&mut self, operator: &str, now_ns: u64, venue: Option<u32>, strategy: Option<u32>) -> PyResult<()> {
        self.inner.reset_kill(scope(venue, strategy)?, operator, now_ns).py()
    }

    fn reset_daily(&mut self, now_ns: u64) {
        self.inner.reset_daily(now_ns);
    }

    fn daily_pnl(&self, py: Python<'_>) -> PyResult<PyObject> {
        to_decimal(py, self.inner.daily_pnl())
    }

    fn gross_exposure(&self, py: Python<'_>) -> PyResult<PyObject> {
        to_decimal(py, self.inner.gross_exposure())
    }

    fn net_exposure(&self, py: Python<'_>) -> PyResult<(PyObject, PyObject)> {
        let (l, s) = self.inner.net_exposure();
        Ok((to_decimal(py, l)?, to_decimal(py, s)?))
    }

    fn open_order_count(&self) -> u32 {
        self.inner.open_order_count()
    }

    #[pyo3(signature = (*, venue=None, strategy=None))]
    fn live_orders(&self, venue: Option<u32>, strategy: Option<u32>) -> PyResult<Vec<u64>> {
        Ok(self.inner.live_orders(scope(venue, strategy)?))
    }

    fn unknown_orders(&self) -> Vec<u64> {
        self.inner.unknown_orders()
    }

    fn audit_log(&self) -> Vec<String> {
        self.inner.audit_log().to_vec()
    }

    fn __repr__(&self) -> String {
        format!(
            "RiskGate(state={:?}, open_orders={})",
            self.inner.trading_state(Scope::Global).unwrap_or(TradingState::Halted),
            self.inner.open_order_count()
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTradingState>()?;
    m.add_class::<PyOrderType>()?;
    m.add_class::<PyTif>()?;
    m.add_class::<PyDenyReason>()?;
    m.add_class::<PyApproval>()?;
    m.add_class::<PyDenial>()?;
    m.add_class::<PyRiskGate>()?;
    Ok(())
}
