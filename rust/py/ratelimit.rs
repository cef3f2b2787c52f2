//! `RateLimiter` and `Window`.

use pyo3::prelude::*;

use super::errors::{invalid, PyResultExt};
use crate::ratelimit::{Quota, RateLimiter, WindowKind, WindowSpec};

/// One window of a quota: `limit` units per `interval_ns`.
#[pyclass(module = "trader._core", name = "Window", frozen)]
#[derive(Clone)]
pub(crate) struct PyWindow {
    spec: WindowSpec,
}

#[pymethods]
impl PyWindow {
    #[new]
    #[pyo3(signature = (limit, interval_ns, *, rolling=false, reserve=0))]
    fn new(limit: u64, interval_ns: u64, rolling: bool, reserve: u64) -> Self {
        let kind = if rolling { WindowKind::Rolling } else { WindowKind::Fixed };
        PyWindow { spec: WindowSpec { limit, interval_ns, kind, reserve } }
    }
    #[getter]
    fn limit(&self) -> u64 {
        self.spec.limit
    }
    #[getter]
    fn interval_ns(&self) -> u64 {
        self.spec.interval_ns
    }
    #[getter]
    fn rolling(&self) -> bool {
        self.spec.kind == WindowKind::Rolling
    }
    #[getter]
    fn reserve(&self) -> u64 {
        self.spec.reserve
    }
    fn __repr__(&self) -> String {
        format!(
            "Window(limit={}, interval_ns={}, rolling={}, reserve={})",
            self.spec.limit,
            self.spec.interval_ns,
            if self.rolling() { "True" } else { "False" },
            self.spec.reserve
        )
    }
}

/// Named quotas; `try_acquire` answers at once and never sleeps.
#[pyclass(module = "trader._core", name = "RateLimiter")]
pub(crate) struct PyRateLimiter {
    inner: RateLimiter,
}

#[pymethods]
impl PyRateLimiter {
    #[new]
    fn new() -> Self {
        PyRateLimiter { inner: RateLimiter::new() }
    }

    fn add_quota(&mut self, name: &str, windows: Vec<PyRef<'_, PyWindow>>) -> PyResult<usize> {
        let q = Quota::new(name, windows.iter().map(|w| w.spec).collect()).py()?;
        self.inner.add_quota(q).py()
    }

    fn quota_id(&self, name: &str) -> PyResult<usize> {
        self.inner.quota_id(name).py()
    }

    #[pyo3(signature = (quota, cost, now_ns, priority=false))]
    #[inline]
    fn try_acquire(&mut self, quota: usize, cost: u64, now_ns: u64, priority: bool) -> PyResult<Option<u64>> {
        let q = self.inner.quota_mut(quota).py()?;
        match q.try_acquire(cost, now_ns, priority) {
            Ok(()) => Ok(None),
            Err(u64::MAX) => {
                Err(invalid(format!("cost {cost} can never fit quota {:?} (max {})", q.name(), q.max_cost(priority))))
            }
            Err(at) => Ok(Some(at)),
        }
    }

    fn observe_usage(&mut self, quota: usize, interval_ns: u64, used: u64, now_ns: u64) -> PyResult<()> {
        self.inner.quota_mut(quota).py()?.observe_usage(interval_ns, used, now_ns).py()
    }

    fn block_until(&mut self, quota: usize, until_ns: u64) -> PyResult<()> {
        self.inner.quota_mut(quota).py()?.block_until(until_ns);
        Ok(())
    }

    fn usage(&mut self, quota: usize, now_ns: u64) -> PyResult<Vec<(u64, u64, u64)>> {
        Ok(self.inner.quota_mut(quota).py()?.usage(now_ns))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyWindow>()?;
    m.add_class::<PyRateLimiter>()?;
    Ok(())
}
