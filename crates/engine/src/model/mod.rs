//! Docker's JSON shapes that the engine stores and returns (field names as on the wire). The API
//! crate serializes these as they are.

pub mod container;
pub mod system;

pub use container::*;
pub use system::*;
