//! Statistics and agency scorecards (问责): every figure is counted from item states by
//! `measures.rs`, links to the list of items behind it, and is drawn as a server-side SVG chart
//! with the same numbers as a table and as CSV.
pub mod facts;
pub mod measures;
mod routes;
pub mod service;

pub use measures::{Measure, Selection, Tally};
pub use routes::routes;
