//! The one place where core errors become Python exceptions.
//!
//! Every class derives from `TraderError`; most also derive from the builtin a caller would already
//! catch (`ValueError`, `LookupError`), the way pydantic-core and orjson do it.

use pyo3::exceptions::{PyException, PyLookupError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyDict, PyTuple, PyType};

use crate::error::CoreError;

pub(crate) struct Classes {
    pub trader: Py<PyType>,
    pub invalid_input: Py<PyType>,
    pub parse: Py<PyType>,
    pub sequence_gap: Py<PyType>,
    pub book_not_ready: Py<PyType>,
    pub unknown_instrument: Py<PyType>,
    pub unknown_order: Py<PyType>,
    pub unknown_name: Py<PyType>,
    pub kill_latched: Py<PyType>,
    pub credential: Py<PyType>,
}

static CLASSES: GILOnceCell<Classes> = GILOnceCell::new();

fn new_class(py: Python<'_>, name: &str, bases: &[&Bound<'_, PyType>], doc: &str) -> PyResult<Py<PyType>> {
    let ns = PyDict::new(py);
    ns.set_item("__module__", "trader._core")?;
    ns.set_item("__doc__", doc)?;
    let bases = PyTuple::new(py, bases)?;
    let cls = py.get_type::<PyType>().call1((name, bases, ns))?;
    Ok(cls.downcast_into::<PyType>()?.unbind())
}

fn build(py: Python<'_>) -> PyResult<Classes> {
    let exc = py.get_type::<PyException>();
    let value = py.get_type::<PyValueError>();
    let lookup = py.get_type::<PyLookupError>();
    let trader = new_class(py, "TraderError", &[&exc], "Base class of every error raised by trader.")?;
    let t = trader.bind(py).clone();
    Ok(Classes {
        invalid_input: new_class(
            py,
            "InvalidInputError",
            &[&t, &value],
            "An argument is malformed or out of its domain (a decimal that is not a multiple of its unit, a bad spec or limit).",
        )?,
        parse: new_class(py, "ParseError", &[&t, &value], "A venue message is malformed; nothing was applied.")?,
        sequence_gap: new_class(
            py,
            "SequenceGapError",
            &[&t],
            "An update does not follow the previous one. The book is now invalid and needs a resync. Attributes: expected, got.",
        )?,
        book_not_ready: new_class(
            py,
            "BookNotReadyError",
            &[&t],
            "The book is resyncing or invalid and cannot take incremental updates.",
        )?,
        unknown_instrument: new_class(py, "UnknownInstrumentError", &[&t, &lookup], "No such instrument is registered.")?,
        unknown_order: new_class(py, "UnknownOrderError", &[&t, &lookup], "No order with this key is tracked.")?,
        unknown_name: new_class(
            py,
            "UnknownNameError",
            &[&t, &lookup],
            "No quota, venue or strategy with this name or id is registered.",
        )?,
        kill_latched: new_class(
            py,
            "KillSwitchLatchedError",
            &[&t],
            "A latched kill switch cannot be cleared by a state change; use RiskGate.reset_kill.",
        )?,
        credential: new_class(
            py,
            "CredentialError",
            &[&t, &value],
            "A key, secret or passphrase is missing or malformed. The message never carries secret material.",
        )?,
        trader,
    })
}

pub(crate) fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || build(py))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let c = classes(py)?;
    for cls in [
        &c.trader,
        &c.invalid_input,
        &c.parse,
        &c.sequence_gap,
        &c.book_not_ready,
        &c.unknown_instrument,
        &c.unknown_order,
        &c.unknown_name,
        &c.kill_latched,
        &c.credential,
    ] {
        let b = cls.bind(py);
        m.add(b.name()?, b)?;
    }
    Ok(())
}

fn raise(py: Python<'_>, err: &CoreError) -> PyResult<PyErr> {
    let c = classes(py)?;
    let cls = match err {
        CoreError::InvalidDecimal { .. }
        | CoreError::NotOnStep { .. }
        | CoreError::InvalidSpec(_)
        | CoreError::InvalidArgument(_)
        | CoreError::Overflow(_) => &c.invalid_input,
        CoreError::Parse { .. } => &c.parse,
        CoreError::SequenceGap { .. } => &c.sequence_gap,
        CoreError::BookNotReady(_) => &c.book_not_ready,
        CoreError::UnknownInstrument(_) => &c.unknown_instrument,
        CoreError::UnknownOrder(_) => &c.unknown_order,
        CoreError::UnknownName { .. } => &c.unknown_name,
        CoreError::KillLatched(_) => &c.kill_latched,
        CoreError::Credential(_) => &c.credential,
    };
    let value = cls.bind(py).call1((err.to_string(),))?;
    if let CoreError::SequenceGap { expected, got } = err {
        value.setattr("expected", *expected)?;
        value.setattr("got", *got)?;
    }
    Ok(PyErr::from_value(value))
}

/// Convert a core error into the matching Python exception.
pub(crate) fn to_py(err: CoreError) -> PyErr {
    Python::with_gil(|py| raise(py, &err).unwrap_or_else(|e| e))
}

/// `.py()?` turns a `CoreResult` into a `PyResult` with the right exception class.
pub(crate) trait PyResultExt<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> PyResultExt<T> for Result<T, CoreError> {
    #[inline]
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// Raise `InvalidInputError` with a message.
pub(crate) fn invalid(msg: impl Into<String>) -> PyErr {
    to_py(CoreError::InvalidArgument(msg.into()))
}
