//! `berth`: the command line client of the Docker Engine API.
fn main() {}
