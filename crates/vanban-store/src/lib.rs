//! Storage for vanban.
//!
//! Small traits ([`AgencyRepo`], [`UserRepo`], [`SessionRepo`], [`DocumentRepo`],
//! [`DelegationRepo`], [`PkiRepo`], [`AuditRepo`]) gathered in [`Store`], with two implementations: [`SqliteStore`] (embedded,
//! the default) and [`PgStore`] (PostgreSQL, for several nodes). Both run the same
//! conformance suite (`tests/conformance.rs`). Blobs go to a content-addressed, write-once
//! [`BlobStore`].
//!
//! Reads of agency data take a [`Scope`] or an [`AdminScope`], so an unscoped query cannot be
//! written by accident; every write takes an [`Actor`] and appends its audit event in the
//! same transaction.

#![forbid(unsafe_code)]

mod audit;
mod blob;
mod error;
mod group;
mod migrations;
mod model;
mod model_issuing;
mod postgres;
mod repo;
mod sql;
mod sql_exchange;
mod sql_issuing;
mod sqlite;

use std::path::Path;
use std::sync::Arc;

pub use audit::GENESIS as AUDIT_GENESIS;
pub use blob::{BlobRef, BlobStore};
pub use error::{Result, StoreError};
pub use model::*;
pub use model_issuing::*;
pub use postgres::PgStore;
pub use repo::*;
pub use sqlite::SqliteStore;

/// Opens the store a database URL names: `sqlite://PATH` or `postgres://…`. Without a URL,
/// the embedded SQLite file in `data_dir`.
pub async fn open(database_url: Option<&str>, data_dir: &Path) -> Result<Arc<dyn Store>> {
    match database_url {
        None => Ok(Arc::new(SqliteStore::open_dir(data_dir).await?)),
        Some(u) if u.starts_with("sqlite:") => Ok(Arc::new(SqliteStore::connect(u).await?)),
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            Ok(Arc::new(PgStore::connect(u).await?))
        }
        Some(u) => Err(StoreError::UnsupportedUrl(u.to_owned())),
    }
}
