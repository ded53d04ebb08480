fn main() {
    std::process::exit(berth_cli::run())
}
