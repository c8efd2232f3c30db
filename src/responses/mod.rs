//! Responses (答复): what agencies said on the spot, their co-handling opinions, progress reports
//! and written replies.
pub mod service;
pub mod write;
