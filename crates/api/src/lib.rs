//! The Docker Engine API server: routes, JSON shapes, streams and hijack. Translation only; all
//! behaviour lives in the engine.
