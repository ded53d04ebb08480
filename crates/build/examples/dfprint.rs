//! Prints a Dockerfile as Berth parses it (one instruction per line): `dfprint <file>`.
fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dfprint <Dockerfile>");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    match berth_build::dockerfile::Dockerfile::parse(&text) {
        Ok(d) => print!("{}", d.to_text()),
        Err(e) => {
            eprintln!("{e} (column {})", e.column);
            std::process::exit(1);
        }
    }
}
