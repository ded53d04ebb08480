//! `import ROOT TARBALL [REFERENCE]`: imports a root filesystem tarball into an image store at
//! ROOT and prints the time taken. Used to time layer unpacking.

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: import ROOT TARBALL [REFERENCE]");
        std::process::exit(2);
    }
    let start = Instant::now();
    let res = berth_image::ImageStore::open(std::path::Path::new(&args[1])).and_then(|s| {
        let f = std::fs::File::open(&args[2])
            .map_err(|e| berth_image::Error::InvalidArgument(format!("{}: {e}", args[2])))?;
        s.import(
            std::io::BufReader::new(f),
            args.get(3).map(String::as_str),
            &[],
        )
    });
    match res {
        Ok(id) => println!(
            "imported {} in {:.3}s",
            &id[..19],
            start.elapsed().as_secs_f64()
        ),
        Err(e) => {
            eprintln!("import: {e}");
            std::process::exit(1)
        }
    }
}
