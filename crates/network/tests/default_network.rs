//! The default network follows the manager's options on an existing state folder: re-made
//! with the new bridge, subnet and nftables table when nothing is attached to it, refused
//! (naming the containers, changing nothing) when something is.

mod common;

use berth_network::{Error, NetworkManager};
use berth_testkit::unique_name;
use common::*;

/// Deletes a table and a bridge that the fixture does not know about, whatever happens.
struct Extra {
    table: String,
    bridge: String,
}

impl Drop for Extra {
    fn drop(&mut self) {
        sh(&format!("nft delete table ip {} 2>/dev/null", self.table));
        sh(&format!("ip link del {} 2>/dev/null", self.bridge));
    }
}

fn table_exists(table: &str) -> bool {
    sh("nft list tables")
        .lines()
        .any(|l| l.trim() == format!("table ip {table}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_network_follows_new_options_unless_containers_are_on_it() {
    let mut fx = Fixture::new();
    fx.default_bridge = Some(unique_name("bd"));
    let ns = fx.netns("c");
    let mut before = fx.options();
    before.bip = Some(free_subnet().replace(".0/24", ".1/24"));
    let mgr = fx.open_with(before.clone()).await;
    let old = mgr.get("bridge").unwrap();
    mgr.attach("bridge", "c-web", &ns, named("web"))
        .await
        .unwrap();
    mgr.shutdown();
    drop(mgr);

    let extra = Extra {
        table: unique_name("bt"),
        bridge: unique_name("bd"),
    };
    let mut after = before.clone();
    after.default_bridge = Some(extra.bridge.clone());
    after.nft_table = extra.table.clone();
    let new_subnet = free_subnet();
    after.bip = Some(new_subnet.replace(".0/24", ".1/24"));

    // A container is on it: refused, with the container and both settings named.
    let err = match NetworkManager::open(&fx.state_dir(), after.clone()).await {
        Ok(_) => panic!("the default network moved under an attached container"),
        Err(e) => e,
    };
    assert!(matches!(err, Error::DefaultNetworkInUse { .. }), "{err}");
    let msg = err.to_string();
    for want in ["web", old.bridge.as_str(), extra.bridge.as_str()] {
        assert!(msg.contains(want), "{want} missing from: {msg}");
    }
    assert!(
        !table_exists(&extra.table),
        "the refused start left its table"
    );
    assert!(table_exists(&fx.table));
    assert!(
        fx.leftover_links(std::slice::from_ref(&extra.bridge))
            .is_empty()
    );

    // The former options still open it, with the container's endpoint kept.
    let mgr = fx.open_with(before.clone()).await;
    assert_eq!(mgr.get("bridge").unwrap().id, old.id);
    mgr.detach("bridge", "c-web").await.unwrap();
    mgr.shutdown();
    drop(mgr);

    // Nothing attached: re-made on the new bridge, subnet and table; the former ones gone.
    let mgr = NetworkManager::open(&fx.state_dir(), after).await.unwrap();
    let now = mgr.get("bridge").unwrap();
    assert_eq!(now.bridge, extra.bridge);
    assert_eq!(now.subnet.to_string(), new_subnet);
    assert!(
        fx.leftover_links(std::slice::from_ref(&old.bridge))
            .is_empty()
    );
    assert!(!table_exists(&fx.table), "the former table is left");
    let rules = sh(&format!("nft list table ip {}", extra.table));
    assert!(rules.contains(&new_subnet), "{rules}");
    let e = mgr
        .attach("bridge", "c-web", &ns, named("web"))
        .await
        .unwrap();
    assert!(
        now.subnet.contains(&e.ipv4),
        "{} not in {}",
        e.ipv4,
        now.subnet
    );
    mgr.purge().await.unwrap();
}
