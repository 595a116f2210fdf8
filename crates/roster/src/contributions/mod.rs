//! contributions: people extracted from crowd-testing records (bug reports and test cycles).
//!
//! So far: the streaming reader of the platform's export shapes and the record checks. Ingest, extraction and the
//! reports follow.

pub mod model;
pub mod reader;
