//! The OCI runtime library: turns a bundle (config.json + rootfs) into an isolated, limited
//! process. Owns namespaces, cgroups, rootfs setup, seccomp and capabilities. Uses nothing of
//! Berth's other crates.
