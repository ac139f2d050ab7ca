//! The schema migrations of each backend, embedded in the binary.
//!
//! What `sqlx::migrate!` would generate, without sqlx's proc-macro crate: that crate compiles
//! sqlx's drivers (and SQLite's C source) a second time for the compiler's own use, a few
//! minutes of every clean build on two cores, and `migrate!` was its only use here. Each
//! migration is described exactly as `migrate!` describes it (version and description from
//! the file name, the same checksum), so databases migrated by either are the same to sqlx.
//!
//! A new migration is a new file in both folders *and* a line in the list below; the test at
//! the bottom fails when a folder and the list differ.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

/// The files, named once: both folders hold the same names (a migration is written for both
/// backends), each with its contents included at compile time.
macro_rules! files {
    ($($file:literal),+ $(,)?) => {
        const SQLITE: &[(&str, &str)] = &[$(($file, include_str!(concat!("../migrations/sqlite/", $file)))),+];
        const POSTGRES: &[(&str, &str)] = &[$(($file, include_str!(concat!("../migrations/postgres/", $file)))),+];
    };
}

files!(
    "0001_foundation.sql",
    "0002_delegations.sql",
    "0003_drafts.sql",
    "0004_reviews.sql",
    "0005_document_files.sql",
    "0006_pki.sql",
    "0007_issuing.sql",
    "0008_issued_appendices.sql",
    "0009_exchange.sql",
    "0010_change_update.sql",
    "0011_arrival_indexes.sql",
);

/// The SQLite migrations.
pub(crate) fn sqlite() -> Migrator {
    migrator(SQLITE)
}

/// The PostgreSQL migrations.
pub(crate) fn postgres() -> Migrator {
    migrator(POSTGRES)
}

fn migrator(files: &'static [(&'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(files.iter().map(|(name, sql)| migration(name, sql)).collect())
}

/// `0007_issuing.sql` → version 7, description "issuing" (underscores become spaces), as
/// sqlx's own resolver reads a folder.
fn migration(name: &'static str, sql: &'static str) -> Migration {
    let (version, rest) = name.split_once('_').expect("a migration file is named VERSION_DESCRIPTION.sql");
    let version: i64 = version.parse().expect("a migration's version is a number");
    let kind = MigrationType::from_filename(rest);
    let description = rest.trim_end_matches(kind.suffix()).replace('_', " ");
    let no_tx = sql.starts_with("-- no-transaction");
    Migration::new(version, Cow::Owned(description), kind, sqlx::SqlStr::from_static(sql), no_tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each list names exactly the files of its folder, and each migration is what sqlx's own
    /// resolver (the one `migrate!` runs at compile time) makes of its file.
    #[test]
    fn the_lists_are_the_folders() {
        for (dir, list) in [("sqlite", SQLITE), ("postgres", POSTGRES)] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dir);
            let resolved = sqlx::migrate::resolve_blocking(&path).expect("the folder resolves");
            let ours = migrator(list);
            assert_eq!(ours.migrations.len(), resolved.len(), "{dir}: the list and the folder differ");
            for (mine, (theirs, file)) in ours.migrations.iter().zip(&resolved) {
                let file = file.display();
                assert_eq!(mine.version, theirs.version, "{file}");
                assert_eq!(mine.description, theirs.description, "{file}");
                assert_eq!(mine.checksum, theirs.checksum, "{file}");
                assert_eq!(mine.no_tx, theirs.no_tx, "{file}");
                assert_eq!(mine.migration_type, theirs.migration_type, "{file}");
            }
        }
    }
}
