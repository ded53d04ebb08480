//! `berth-monitor`: the per-container monitor (single-threaded, no tokio). All of it lives in
//! `berth_engine::monitor`; this binary sits beside `berthd` so both build together.

fn main() {
    std::process::exit(berth_engine::monitor::main());
}
