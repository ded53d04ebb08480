//! The Engine API shapes this client sends and reads, declared here (the CLI depends on no other
//! Berth crate). Field names are Docker's; unknown fields are ignored and missing ones default,
//! so the same types read a real dockerd's answers.

mod create;
mod lists;
mod stream;

pub use create::*;
pub use lists::*;
pub use stream::*;
