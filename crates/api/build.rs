//! Links `berth-monitor` as a non-PIE executable: with no load-time relocations its data pages
//! stay clean and shared between the hundreds of monitors of idle containers (a PIE monitor
//! dirties ~256 KiB of relocated read-only data in each process).

fn main() {
    println!("cargo:rustc-link-arg-bin=berth-monitor=-no-pie");
}
