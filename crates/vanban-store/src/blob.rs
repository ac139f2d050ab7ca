//! Content-addressed, write-once blob storage over `object_store`: a blob's address is the
//! SHA-256 of its bytes, so a stored blob can never change, and reads verify it.

use std::sync::Arc;

use bytes::Bytes;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, path::Path};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Result, StoreError};

/// The address of a stored blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlobRef {
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    pub size: u64,
}

/// A write-once, content-addressed blob store (local files by default, S3 later).
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    /// For local directories, the root: blobs are written and read with plain file calls
    /// (a temporary file renamed into place), the same layout `object_store` uses, without
    /// its staging and existence checks (about a millisecond per blob when issuing).
    local: Option<Arc<std::path::PathBuf>>,
}

impl BlobStore {
    /// Blobs under a local directory (created if missing).
    pub fn local(dir: &std::path::Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Blob(object_store::Error::Generic { store: "LocalFileSystem", source: Box::new(e) })
        })?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)?;
        Ok(BlobStore { inner: Arc::new(fs), local: Some(Arc::new(dir.to_path_buf())) })
    }

    /// Blobs in memory (tests).
    pub fn in_memory() -> Self {
        BlobStore { inner: Arc::new(object_store::memory::InMemory::new()), local: None }
    }

    /// Blobs in any object store.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        BlobStore { inner, local: None }
    }

    /// Where a blob is written: `sha256/ab/abcd…`, one level of 256 directories (a million
    /// blobs are about 4,000 files a directory, which ext4's hashed directories index; two
    /// levels meant a new directory, and its inode, for most blobs of a young instance).
    fn path_of(sha256: &str) -> Result<Path> {
        let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            return Err(StoreError::NotFound);
        }
        Ok(Path::from(format!("sha256/{}/{}", &sha256[..2], sha256)))
    }

    /// Where blobs were written before (`sha256/ab/cd/abcd…`): still read.
    fn legacy_path_of(sha256: &str) -> Result<Path> {
        Self::path_of(sha256)?;
        Ok(Path::from(format!("sha256/{}/{}/{}", &sha256[..2], &sha256[2..4], sha256)))
    }

    /// Stores bytes and returns their address. Storing the same bytes twice is a no-op:
    /// a sound blob is never overwritten. (A stored copy that no longer matches its address
    /// is damaged, and is repaired with these bytes, which do.)
    pub async fn put(&self, bytes: Bytes) -> Result<BlobRef> {
        if self.is_local() {
            let this = self.clone();
            return tokio::task::spawn_blocking(move || this.put_blocking(&bytes))
                .await
                .map_err(|e| local_err(std::io::Error::other(e)))?
                .unwrap_or(Err(StoreError::NotFound));
        }
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let size = bytes.len() as u64;
        let path = Self::path_of(&sha256)?;
        let opts = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
        match self.inner.put_opts(&path, bytes.clone().into(), opts).await {
            Ok(_) => Ok(BlobRef { sha256, size }),
            Err(object_store::Error::AlreadyExists { .. }) => match self.get(&sha256).await {
                Ok(_) => Ok(BlobRef { sha256, size }),
                Err(StoreError::BlobCorrupt(_)) => {
                    tracing::warn!(%sha256, "repairing a damaged blob");
                    self.inner.put(&path, bytes.into()).await?;
                    Ok(BlobRef { sha256, size })
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Reads a blob and checks that it still hashes to its address.
    pub async fn get(&self, sha256: &str) -> Result<Bytes> {
        if self.is_local() {
            let (this, sha) = (self.clone(), sha256.to_owned());
            return tokio::task::spawn_blocking(move || this.get_blocking(&sha))
                .await
                .map_err(|e| local_err(std::io::Error::other(e)))?
                .unwrap_or(Err(StoreError::NotFound));
        }
        let path = Self::path_of(sha256)?;
        let found = match self.inner.get(&path).await {
            Err(object_store::Error::NotFound { .. }) => self.inner.get(&Self::legacy_path_of(sha256)?).await,
            other => other,
        };
        let bytes = match found {
            Ok(r) => r.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => return Err(StoreError::NotFound),
            Err(e) => return Err(e.into()),
        };
        if hex::encode(Sha256::digest(&bytes)) != sha256 {
            return Err(StoreError::BlobCorrupt(sha256.to_owned()));
        }
        Ok(bytes)
    }

    /// Whether blobs are local files, which [`get_blocking`](Self::get_blocking) and
    /// [`put_blocking`](Self::put_blocking) serve.
    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// [`get`](Self::get) on the calling thread, for code already on a blocking thread (the
    /// issuing pipeline reads, signs and stores in one turn on the CPU pool). `None` when the
    /// blobs are not local files: use `get`.
    pub fn get_blocking(&self, sha256: &str) -> Option<Result<Bytes>> {
        let root = self.local.as_ref()?;
        let read = || -> Result<Bytes> {
            let file = root.join(Self::path_of(sha256)?.as_ref());
            let read = match std::fs::read(file) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::read(root.join(Self::legacy_path_of(sha256)?.as_ref()))
                }
                other => other,
            };
            let bytes = match read {
                Ok(b) => Bytes::from(b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::NotFound),
                Err(e) => return Err(local_err(e)),
            };
            if hex::encode(Sha256::digest(&bytes)) != sha256 {
                return Err(StoreError::BlobCorrupt(sha256.to_owned()));
            }
            Ok(bytes)
        };
        Some(read())
    }

    /// [`put`](Self::put) on the calling thread (see [`get_blocking`](Self::get_blocking));
    /// `None` when the blobs are not local files.
    pub fn put_blocking(&self, bytes: &[u8]) -> Option<Result<BlobRef>> {
        self.put_blocking_hashed(bytes, hex::encode(Sha256::digest(bytes)))
    }

    /// [`put_blocking`](Self::put_blocking) for bytes whose SHA-256 the caller has just
    /// computed (the validator hashes the issued file): `sha256` must be theirs, lower-case
    /// hex — a wrong one stores a blob every read reports as damaged.
    pub fn put_blocking_hashed(&self, bytes: &[u8], sha256: String) -> Option<Result<BlobRef>> {
        let root = self.local.as_ref()?;
        debug_assert_eq!(sha256, hex::encode(Sha256::digest(bytes)));
        let write = || -> Result<BlobRef> {
            let file = root.join(Self::path_of(&sha256)?.as_ref());
            write_file(&file, bytes, &sha256).map_err(local_err)?;
            Ok(BlobRef { sha256, size: bytes.len() as u64 })
        };
        Some(write())
    }

    /// [`put`](Self::put) for bytes whose SHA-256 the caller has just computed (see
    /// [`put_blocking_hashed`](Self::put_blocking_hashed)). A local write and its fsyncs run
    /// on the blocking pool, so callers on the CPU pool hand the bytes over instead of
    /// waiting on the disk there.
    pub async fn put_hashed(&self, bytes: Bytes, sha256: String) -> Result<BlobRef> {
        if !self.is_local() {
            return self.put(bytes).await;
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.put_blocking_hashed(&bytes, sha256))
            .await
            .map_err(|e| local_err(std::io::Error::other(e)))?
            .unwrap_or(Err(StoreError::NotFound))
    }

    /// Whether a blob is stored.
    pub async fn exists(&self, sha256: &str) -> Result<bool> {
        for path in [Self::path_of(sha256)?, Self::legacy_path_of(sha256)?] {
            match self.inner.head(&path).await {
                Ok(_) => return Ok(true),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(false)
    }
}

fn local_err(e: std::io::Error) -> StoreError {
    StoreError::Blob(object_store::Error::Generic { store: "LocalFileSystem", source: Box::new(e) })
}

/// Writes `data` at `file` through a temporary file in the same directory and a rename, so a
/// reader never sees a partial blob. A sound copy already there is left alone (write-once); a
/// damaged one is replaced by the right bytes.
fn write_file(file: &std::path::Path, data: &[u8], sha256: &str) -> std::io::Result<()> {
    match std::fs::read(file) {
        Ok(existing) if hex::encode(Sha256::digest(&existing)) == sha256 => return Ok(()),
        Ok(_) => tracing::warn!(%sha256, "repairing a damaged blob"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let dir = file.parent().ok_or_else(|| std::io::Error::other("blob path without a directory"))?;
    let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::now_v7().simple()));
    // The fan-out directory usually exists: create it only when the write says it does not.
    match write_synced(&tmp, data) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)?;
            write_synced(&tmp, data)?;
        }
        other => other?,
    }
    std::fs::rename(&tmp, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    // The new name is on disk too: the row that refers to it is committed after this.
    std::fs::File::open(dir)?.sync_all()
}

/// Writes a new file and syncs its data before it is renamed into place: a blob is on disk
/// before the database row that refers to it, so a power failure cannot leave a row whose
/// file is empty (ext4 allocates a new file's blocks late; a rename alone does not order them).
fn write_synced(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::File::create_new(path)?;
    f.write_all(data)?;
    f.sync_data()
}
