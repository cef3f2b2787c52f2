//! `trader._core`: the hot path of the trader engine.
//!
//! No I/O, no clock reads, no randomness and no threads in here: every time-dependent call takes
//! `now_ns` from the caller. The PyO3 layer lives in `py/` behind the `python` feature.

pub mod book;
pub mod error;
pub mod ratelimit;
pub mod risk;
pub mod sign;
pub mod types;

#[cfg(feature = "python")]
mod py;
