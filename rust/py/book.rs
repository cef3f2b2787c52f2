//! `Book` and the checksum helpers.

use pyo3::prelude::*;

use super::errors::{invalid, PyResultExt};
use super::spec::{PySide, PySpec};
use crate::book::checksum::{kraken_checksum, okx_checksum};
use crate::book::{Book, SeqState};

/// Sequence state of a book.
#[pyclass(module = "trader._core", name = "BookState", eq, eq_int, frozen, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PyBookState {
    #[pyo3(name = "VALID")]
    Valid,
    #[pyo3(name = "INVALID")]
    Invalid,
    #[pyo3(name = "RESYNCING")]
    Resyncing,
}

/// L2 order book of one instrument, prices and quantities in the spec's integer units.
#[pyclass(module = "trader._core", name = "Book")]
pub(crate) struct PyBook {
    inner: Book,
    spec: Py<PySpec>,
}

#[pymethods]
impl PyBook {
    #[new]
    fn new(spec: Bound<'_, PySpec>) -> Self {
        PyBook { inner: Book::new(spec.get().inner.clone()), spec: spec.unbind() }
    }

    #[getter]
    fn spec(&self, py: Python<'_>) -> Py<PySpec> {
        self.spec.clone_ref(py)
    }

    #[getter]
    fn state(&self) -> PyBookState {
        match self.inner.seq.state {
            SeqState::Valid => PyBookState::Valid,
            SeqState::Invalid { .. } => PyBookState::Invalid,
            SeqState::Resyncing => PyBookState::Resyncing,
        }
    }

    #[getter]
    fn last_update_id(&self) -> u64 {
        self.inner.seq.last_id
    }

    fn apply_snapshot(&mut self, bids: Vec<(i64, i64)>, asks: Vec<(i64, i64)>, last_update_id: u64) -> PyResult<()> {
        self.inner.apply_snapshot(&bids, &asks, last_update_id).py()
    }

    fn set_level(&mut self, side: PySide, price: i64, qty: i64) -> PyResult<()> {
        self.inner.set_level(side.into(), price, qty).py()
    }

    fn apply_update(&mut self, side: PySide, price: i64, qty: i64, update_id: u64) -> PyResult<bool> {
        self.inner.apply_update(side.into(), price, qty, update_id).py()
    }

    fn apply_binance_depth(&mut self, raw: &[u8]) -> PyResult<bool> {
        self.inner.apply_binance_depth(raw).py()
    }

    fn apply_binance_snapshot(&mut self, raw: &[u8]) -> PyResult<u64> {
        self.inner.apply_binance_snapshot(raw).py()
    }

    fn apply_polymarket_book(&mut self, raw: &[u8], asset_id: &str) -> PyResult<Option<u64>> {
        self.inner.apply_polymarket_book(raw, asset_id).py()
    }

    /// (sequence_num, snapshot?, levels applied), or None when the message has nothing of the product.
    fn apply_coinbase_level2(&mut self, raw: &[u8], product_id: &str) -> PyResult<Option<(u64, bool, usize)>> {
        let r = self.inner.apply_coinbase_level2(raw, product_id).py()?;
        Ok(r.map(|l| (l.sequence, l.snapshot, l.applied)))
    }

    /// A Coinbase message's (channel, sequence_num, timestamp in ns) without reading its events.
    #[staticmethod]
    fn coinbase_head(raw: &[u8]) -> PyResult<(Option<&str>, Option<u64>, i64)> {
        let h = crate::book::coinbase::coinbase_head(raw).py()?;
        Ok((h.channel, h.sequence, h.ts_ns))
    }

    /// (u, seq, ts ms, snapshot?, levels applied), or None when the frame is not `topic`'s book.
    #[allow(clippy::type_complexity)]
    fn apply_bybit_orderbook(
        &mut self,
        raw: &[u8],
        topic: &str,
        last_seq: u64,
    ) -> PyResult<Option<(u64, u64, u64, bool, usize)>> {
        let r = self.inner.apply_bybit_orderbook(raw, topic, last_seq).py()?;
        Ok(r.map(|o| (o.update_id, o.seq, o.ts_ms, o.snapshot, o.applied)))
    }

    /// (snapshot?, levels applied, ts_event ns, checksum ok?), or None when the message has nothing of
    /// the symbol. A mismatch leaves the book RESYNCING.
    fn apply_kraken_book(
        &mut self,
        raw: &[u8],
        symbol: &str,
        depth: usize,
        price_decimals: u32,
        qty_decimals: u32,
    ) -> PyResult<Option<(bool, usize, i64, bool)>> {
        let r = self.inner.apply_kraken_book(raw, symbol, depth, price_decimals, qty_decimals).py()?;
        Ok(r.map(|k| (k.snapshot, k.applied, k.ts_event, k.checksum_ok)))
    }

    #[allow(clippy::type_complexity)]
    fn apply_polymarket_changes(
        &mut self,
        raw: &[u8],
        asset_id: &str,
    ) -> PyResult<(usize, Option<(Option<i64>, Option<i64>)>)> {
        let c = self.inner.apply_polymarket_changes(raw, asset_id).py()?;
        Ok((c.applied, c.top.map(|t| (t.bid, t.ask))))
    }

    /// OKX `books`: (verdict, seqId, ts ms), or None when the message is not `inst_id`'s books.
    #[pyo3(signature = (raw, inst_id, wire=None))]
    fn apply_okx_books(
        &mut self,
        raw: &[u8],
        inst_id: &str,
        wire: Option<Bound<'_, PySpec>>,
    ) -> PyResult<Option<(&'static str, i64, u64)>> {
        let r = self.inner.apply_okx_books(raw, inst_id, wire.as_ref().map(|w| &w.get().inner)).py()?;
        Ok(r.map(|b| (b.verdict.as_str(), b.seq_id, b.ts_ms)))
    }

    #[pyo3(signature = (wire=None))]
    fn okx_book_checksum(&self, wire: Option<Bound<'_, PySpec>>) -> i32 {
        self.inner.okx_book_checksum(wire.as_ref().map(|w| &w.get().inner))
    }

    fn begin_resync(&mut self) {
        self.inner.seq.begin_resync();
    }

    /// A connector's own sync rule found a gap: mark the book INVALID (nothing may trade off it).
    fn mark_invalid(&mut self, expected: u64, got: u64) {
        self.inner.seq.invalidate(expected, got);
    }

    fn best_bid(&self) -> Option<(i64, i64)> {
        self.inner.best_bid()
    }

    fn best_ask(&self) -> Option<(i64, i64)> {
        self.inner.best_ask()
    }

    fn mid(&self) -> Option<f64> {
        self.inner.mid_x2().map(|m| m as f64 / 2.0)
    }

    fn spread(&self) -> Option<i64> {
        self.inner.spread()
    }

    fn is_crossed(&self) -> bool {
        self.inner.is_crossed()
    }

    fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    #[pyo3(signature = (side, n=10))]
    fn depth(&self, side: PySide, n: usize) -> Vec<(i64, i64)> {
        self.inner.depth(side.into(), n)
    }

    fn fill_estimate(&self, side: PySide, qty: i64) -> Option<(i64, i128, i64)> {
        self.inner.fill_estimate(side.into(), qty).map(|f| (f.filled, f.cost, f.worst_price))
    }

    #[pyo3(signature = (n=5))]
    fn imbalance(&self, n: usize) -> Option<f64> {
        self.inner.imbalance(n)
    }

    fn kraken_checksum(&self, price_decimals: u32, qty_decimals: u32) -> PyResult<u32> {
        self.inner.kraken_checksum(price_decimals, qty_decimals).py()
    }

    fn __len__(&self) -> usize {
        self.inner.bids.len() + self.inner.asks.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "Book(bid={:?}, ask={:?}, levels={}/{}, last_update_id={})",
            self.inner.best_bid(),
            self.inner.best_ask(),
            self.inner.bids.len(),
            self.inner.asks.len(),
            self.inner.seq.last_id
        )
    }
}

fn borrow(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

/// OKX `books` checksum (legacy; the venue now sends 0) over the exact received strings.
#[pyfunction(name = "okx_checksum")]
fn py_okx_checksum(bids: Vec<(String, String)>, asks: Vec<(String, String)>) -> i32 {
    okx_checksum(&borrow(&bids), &borrow(&asks))
}

/// Kraken book checksum over levels already formatted at the pair's precision.
#[pyfunction(name = "kraken_checksum")]
fn py_kraken_checksum(asks: Vec<(String, String)>, bids: Vec<(String, String)>) -> PyResult<u32> {
    if asks.iter().chain(&bids).any(|(p, q)| p.is_empty() || q.is_empty()) {
        return Err(invalid("empty price or quantity string"));
    }
    Ok(kraken_checksum(&borrow(&asks), &borrow(&bids)))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyBookState>()?;
    m.add_class::<PyBook>()?;
    m.add_function(wrap_pyfunction!(py_okx_checksum, m)?)?;
    m.add_function(wrap_pyfunction!(py_kraken_checksum, m)?)?;
    Ok(())
}
