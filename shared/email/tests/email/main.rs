//! The crate's one integration test binary: real messages through `parse`, property tests,
//! and composing round trips.

mod compose;
mod corpus;
mod props;
