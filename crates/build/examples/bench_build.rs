//! A small driver of the builder for `bench/build.sh` (until the daemon serves `POST /build`):
//!
//! `bench_build --data-root DIR --context DIR [--import-base TAR NAME] [-t TAG] [--no-cache]
//!  [--network none|host] [--via-api]`
//!
//! `--via-api` sends the context as a tar through `api::serve_build`, the daemon's path.
//!
//! Opens the image store at `<data-root>/image`, optionally imports a rootfs tarball as `NAME`,
//! builds the context and prints Docker's legacy output (or only the image ID with `-q`).
use std::path::PathBuf;
use std::time::Instant;

use berth_build::{BuildContext, BuildEvent, BuildOptions, Builder, NetworkMode, find_runtime};
use berth_image::ImageStore;

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_build: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let started = Instant::now();
    let mut args = std::env::args().skip(1);
    let (mut root, mut ctx, mut base) = (None, None, None);
    let mut via_api = false;
    let mut opts = BuildOptions {
        network: NetworkMode::None,
        ..Default::default()
    };
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--data-root" => root = Some(PathBuf::from(val()?)),
            "--context" => ctx = Some(PathBuf::from(val()?)),
            "--import-base" => base = Some((PathBuf::from(val()?), val()?)),
            "-t" => opts.tags.push(val()?),
            "--no-cache" => opts.no_cache = true,
            "-q" => opts.quiet = true,
            "--via-api" => via_api = true,
            "--network" => opts.network = NetworkMode::parse(&val()?).map_err(|e| e.to_string())?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let root = root.ok_or("--data-root is required")?;
    let store = ImageStore::open(&root.join("image")).map_err(|e| e.to_string())?;
    if let Some((tar, name)) = base {
        let f = std::fs::File::open(&tar).map_err(|e| format!("{}: {e}", tar.display()))?;
        let id = store
            .import(f, Some(&name), &["CMD [\"sh\"]".into()])
            .map_err(|e| e.to_string())?;
        println!("imported {name}: {id}");
        return Ok(());
    }
    let ctx = ctx.ok_or("--context is required")?;
    let runtime = find_runtime().ok_or("berth-runtime not found (set BERTH_RUNTIME)")?;
    let store = std::sync::Arc::new(store);
    let builder =
        Builder::new(store.clone(), &root.join("build"), &runtime).map_err(|e| e.to_string())?;
    let no_pull = |r: &str, _: &mut dyn FnMut(serde_json::Value)| -> Result<(), String> {
        Err(format!("{r} is not in the store"))
    };
    let out = if via_api {
        // The daemon's path: the context as the CLI sends it (a tar), the query, JSON lines.
        let mut tar = tar::Builder::new(Vec::new());
        tar.follow_symlinks(false);
        tar.append_dir_all(".", &ctx)
            .map_err(|e| format!("tar the context: {e}"))?;
        let body = tar
            .into_inner()
            .map_err(|e| format!("tar the context: {e}"))?;
        let mut query: Vec<(String, String)> = opts
            .tags
            .iter()
            .map(|t| ("t".to_owned(), t.clone()))
            .collect();
        query.push((
            "nocache".into(),
            if opts.no_cache { "1" } else { "0" }.into(),
        ));
        query.push(("q".into(), if opts.quiet { "1" } else { "0" }.into()));
        query.push((
            "networkmode".into(),
            if opts.network == NetworkMode::None {
                "none"
            } else {
                "host"
            }
            .into(),
        ));
        let mut failed = None;
        let id = berth_build::api::serve_build(
            &builder,
            &query,
            &body[..],
            &no_pull,
            &Default::default(),
            &mut |line| {
                if line.contains("\"errorDetail\"") {
                    failed = Some(line.clone());
                }
                print!("{line}");
            },
        );
        match (id, failed) {
            (Some(id), _) => berth_build::BuildOutput {
                image_id: id,
                tags: opts.tags.clone(),
            },
            (None, e) => return Err(e.unwrap_or_else(|| "build failed".into())),
        }
    } else {
        let context = BuildContext::from_dir(&ctx).map_err(|e| e.to_string())?;
        builder
            .build(&context, &opts, &no_pull, &mut |e| match e {
                BuildEvent::Stream(s) => print!("{s}"),
                BuildEvent::Aux(_) | BuildEvent::Progress(_) => {}
            })
            .map_err(|e| e.to_string())?
    };
    // What a client of the daemon waits for: the stream ends here.
    let built = started.elapsed();
    // Intermediate snapshots are removed in the background; a daemon would not wait, this
    // process must before it exits.
    builder.shutdown();
    eprintln!(
        "built {} in {:.1} ms (cleanup done at {:.1} ms)",
        out.image_id,
        built.as_secs_f64() * 1000.0,
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(())
}
