//! The Dockerfile parser and builder with a layer cache. Uses the image and runtime crates.
