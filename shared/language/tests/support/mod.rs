//! Shared test support: the lingua sample corpus and a regression guard on it.

#[allow(dead_code)]
pub mod corpus;

mod regression;
