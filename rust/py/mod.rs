//! The only folder that names pyo3: classes, exceptions and the module init of `trader._core`.

use pyo3::prelude::*;

mod book;
mod errors;
mod ratelimit;
mod risk;
mod sign;
mod spec;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    spec::register(m)?;
    book::register(m)?;
    ratelimit::register(m)?;
    risk::register(m)?;
    sign::register(m)?;
    Ok(())
}
