//! `pull ROOT REFERENCE`: pulls an image into an image store at ROOT and prints the time taken
//! and what was fetched. Used by `bench/pull.sh`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use berth_image::{ImageStore, Progress};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: pull ROOT REFERENCE");
        std::process::exit(2);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let start = Instant::now();
    let store = ImageStore::open(std::path::Path::new(&args[1])).unwrap_or_else(|e| {
        eprintln!("open: {e}");
        std::process::exit(1)
    });
    let fetched = AtomicU64::new(0);
    let present = AtomicU64::new(0);
    let res = rt.block_on(store.pull(&args[2], None, None, &|p| match p {
        Progress::Done { status, .. } if status == "Download complete" => {
            fetched.fetch_add(1, Ordering::Relaxed);
        }
        Progress::Exists { .. } => {
            present.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    }));
    match res {
        Ok(img) => println!(
            "pulled {} ({}) in {:.3}s: {} layers fetched, {} already present",
            args[2],
            &img.id[..19],
            start.elapsed().as_secs_f64(),
            fetched.load(Ordering::Relaxed),
            present.load(Ordering::Relaxed)
        ),
        Err(e) => {
            eprintln!("pull: {e}");
            std::process::exit(1)
        }
    }
}
