//! Tingshang (听商): the public record of Qingdao's 倾听与商量 consultation platform.
//!
//! The crate is split by capability; each capability module owns its routes (thin handlers),
//! its service logic (queries and writes) and the view models its templates render.

pub mod accounts;
pub mod agencies;
pub mod api;
pub mod app;
pub mod attachments;
pub mod audit;
pub mod backup;
pub mod changes;
pub mod cli;
pub mod config;
pub mod corrections;
pub mod db;
pub mod directory;
pub mod documents;
pub mod error;
pub mod files;
pub mod followup;
pub mod home;
pub mod keys;
pub mod mail;
pub mod memory;
pub mod metrics;
pub mod notifications;
pub mod opendata;
pub mod people;
pub mod privacy;
pub mod proposals;
pub mod redaction;
pub mod responses;
pub mod revision;
pub mod search;
pub mod seed;
pub mod sessions;
pub mod statistics;
pub mod time;
pub mod versions;
pub mod visibility;
pub mod vocab;
pub mod web;
pub mod workflow;
pub mod workspace;

pub use error::{AppError, AppResult};
