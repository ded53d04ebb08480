//! Images: content-addressed blobs, manifests and configs, layer unpacking, overlay snapshots,
//! references, the registry client, save/load/import. Uses nothing of Berth's other crates.
