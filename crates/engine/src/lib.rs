//! The domain: container lifecycle, monitors, the state store, events, stats, restart policies
//! and health checks. Uses runtime, image, network and build.
