//! Parent links recorded by commit (the legacy builder's step images): hidden from the default
//! list, refused deletion by ID while they have children, pruned up the chain after `rmi`,
//! and removed top-down by `image prune`.

mod common;

use berth_image::{CommitOptions, Error, ImageStore, RemovedItem};
use berth_testkit::unique_name;
use common::*;

/// Commits an empty-layer step on top of `from` (what a build's ENV/CMD step does).
fn step(s: &ImageStore, from: &str, tag: Option<&str>) -> String {
    let key = unique_name("step");
    s.prepare(&key, from).unwrap();
    let opts = CommitOptions {
        created_by: Some(format!("/bin/sh -c #(nop) ENV K={key}")),
        empty_layer_if_unchanged: true,
        ..Default::default()
    };
    let id = s.commit(&key, &opts, tag).unwrap();
    s.remove_snapshot(&key).unwrap();
    id
}

fn ids(list: &[berth_image::ImageSummary]) -> Vec<String> {
    list.iter().map(|i| i.id.clone()).collect()
}

fn deleted(items: &[RemovedItem]) -> Vec<String> {
    items
        .iter()
        .filter_map(|r| match r {
            RemovedItem::Deleted(id) if id.starts_with("sha256:") => Some(id.clone()),
            _ => None,
        })
        .collect()
}

const NOT_USED: &dyn Fn(&str) -> bool = &|_| false;

#[test]
fn intermediate_images_are_hidden_and_removed_with_their_child() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_busybox(dir.path(), "busybox:latest");
    let base = s.resolve("busybox").unwrap().id;
    let a = step(&s, "busybox", None);
    let b = step(&s, &a, None);
    let top = step(&s, &b, Some("app:1"));
    assert_eq!(s.parent(&top).unwrap(), b);
    assert_eq!(s.parent(&a).unwrap(), base);
    assert_eq!(s.inspect("app:1").unwrap().parent, b);

    let shown = ids(&s.list_images(false).unwrap());
    assert!(shown.contains(&top) && shown.contains(&base), "{shown:?}");
    assert!(!shown.contains(&a) && !shown.contains(&b), "{shown:?}");
    let all = s.list_images(true).unwrap();
    assert_eq!(all.len(), 4);
    let b_summary = all.iter().find(|i| i.id == b).unwrap();
    assert_eq!(b_summary.parent_id, a);

    // A parent goes neither by ID (even forced) nor by prune while its child is there.
    let err = s.remove(&b, true, NOT_USED).unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    assert!(
        err.to_string()
            .ends_with("(cannot be forced) - image has dependent child images"),
        "{err}"
    );
    let report = s.prune(true).unwrap();
    assert!(deleted(&report.images_deleted).is_empty(), "{report:?}");

    // rmi of the tagged child takes the untagged chain with it, not the tagged base.
    let gone = deleted(&s.remove("app:1", false, NOT_USED).unwrap());
    assert_eq!(gone, vec![top, b, a]);
    assert_eq!(ids(&s.list_images(true).unwrap()), vec![base]);
}

#[test]
fn removing_a_tagged_parent_by_name_only_untags_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_with_busybox(dir.path(), "busybox:latest");
    let base = s.resolve("busybox").unwrap().id;
    let child = step(&s, "busybox", Some("child:1"));
    let out = s.remove("busybox", false, NOT_USED).unwrap();
    assert!(deleted(&out).is_empty(), "{out:?}");
    // The base is now an untagged parent: hidden, but still there for its child.
    assert_eq!(ids(&s.list_images(false).unwrap()), vec![child.clone()]);
    assert_eq!(s.list_images(true).unwrap().len(), 2);
    // Untagging the child leaves a dangling chain, which prune removes top-down.
    s.untag("child:1").unwrap();
    let report = s.prune(true).unwrap();
    assert_eq!(deleted(&report.images_deleted)[..2], [child, base]);
    assert!(s.list_images(true).unwrap().is_empty());
}
