//! Phase timings for profiling a build: a span per phase, and a debug event with its duration
//! when it ends (`BERTHD_LOG=berth_build=debug` shows them).

use std::time::Instant;

/// A timed phase: entered on creation, logged (`phase`, `ms`) when dropped.
pub(crate) struct Phase {
    name: &'static str,
    detail: String,
    start: Instant,
    _span: tracing::span::EnteredSpan,
}

impl Phase {
    pub(crate) fn new(name: &'static str, detail: impl Into<String>) -> Phase {
        let detail = detail.into();
        let span = tracing::debug_span!("build_phase", phase = name, detail = %detail).entered();
        Phase {
            name,
            detail,
            start: Instant::now(),
            _span: span,
        }
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        let us = self.start.elapsed().as_micros();
        tracing::debug!(
            phase = self.name,
            detail = %self.detail,
            ms = format_args!("{}.{:03}", us / 1000, us % 1000),
            "build phase done"
        );
    }
}
