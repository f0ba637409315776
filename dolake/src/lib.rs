//! DoLake: the lakehouse Durable Object (change events in, Parquet and
//! Iceberg v2 on R2 out, Iceberg REST catalog).
//!
//! Not built yet: this crate is specified by issue 5 and deliberately has no
//! code until then, so that nothing here pretends to work.
