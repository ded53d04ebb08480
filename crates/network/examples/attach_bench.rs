//! Times one endpoint's attach and detach (veth pair, address, MTU, default route, DNS names)
//! on a user-defined network, with namespaces standing in for containers. Used by
//! `bench/network.sh`. Prints medians in milliseconds as `key=value` lines.
//!
//! "release" is the stop path: `release` + removing the namespace (the kernel destroys the
//! veth pair with it); with BENCH_DETACH=1 it is instead a synchronous `detach` (network
//! disconnect of a running container), which waits for the kernel's link deletion.
//!
//! BENCH_GAP_MS (default 250) is the pause between iterations, outside the timings.
//!
//! Usage: attach_bench [iterations]   (creates and removes its own bridge, table and state)

use std::path::PathBuf;
use std::time::Instant;

use berth_network::{
    EndpointSpec, ManagerOptions, NetworkManager, NetworkSpec, create_netns, remove_netns,
};

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(50);
    let dir = std::env::temp_dir().join(format!("berth-netbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let opts = ManagerOptions {
        default_bridge: None,
        nft_table: format!("berthbench{}", std::process::id()),
        dns_upstreams: Some(Vec::new()),
        ..ManagerOptions::default()
    };
    let mgr = NetworkManager::open(&dir.join("state"), opts).await?;
    let result = run(&mgr, &dir, n).await;
    mgr.purge().await?;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(
    mgr: &NetworkManager,
    dir: &std::path::Path,
    n: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let net = mgr
        .create_network(NetworkSpec {
            name: "bench".into(),
            ..Default::default()
        })
        .await?;
    let gap_ms: u64 = std::env::var("BENCH_GAP_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(250);
    let (mut ns_t, mut attach_t, mut detach_t, mut total_t) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        // By default, let the kernel finish tearing down the previous namespace (it does so in
        // the background, holding the rtnl lock), so each attach is measured on a quiet
        // system. BENCH_GAP_MS=0 measures back to back instead.
        tokio::time::sleep(std::time::Duration::from_millis(gap_ms)).await;
        let ns: PathBuf = dir.join(format!("ns{i}"));
        let t0 = Instant::now();
        create_netns(&ns)?;
        let t1 = Instant::now();
        let spec = EndpointSpec {
            name: format!("c{i}"),
            ..Default::default()
        };
        mgr.attach(&net.id, &format!("c{i}"), &ns, spec).await?;
        let t2 = Instant::now();
        if std::env::var_os("BENCH_DETACH").is_some() {
            mgr.detach(&net.id, &format!("c{i}")).await?;
        } else {
            mgr.release(&format!("c{i}")).await?;
            remove_netns(&ns)?;
        }
        let t3 = Instant::now();
        let _ = remove_netns(&ns);
        ns_t.push((t1 - t0).as_secs_f64() * 1e3);
        attach_t.push((t2 - t1).as_secs_f64() * 1e3);
        detach_t.push((t3 - t2).as_secs_f64() * 1e3);
        total_t.push((t3 - t1).as_secs_f64() * 1e3);
    }
    mgr.remove_network(&net.id).await?;
    println!("iterations={n}");
    println!("netns_create_ms={:.3}", median(&mut ns_t));
    println!("attach_ms={:.3}", median(&mut attach_t));
    println!("release_ms={:.3}", median(&mut detach_t));
    println!("attach_release_ms={:.3}", median(&mut total_t));
    Ok(())
}
