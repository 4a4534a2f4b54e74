use std::collections::HashMap;

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::{Blob, BlobStore, LinkRequest, ProviderError, blob_key};

/// Blob storage in memory, for unit tests of the functions that store and link files. Its
/// links are `memory://<key>?expires=<unix secs>&name=<file name>` (nothing serves them).
#[derive(Default)]
pub struct MemoryBlobStore {
    blobs: Mutex<HashMap<String, Blob>>,
}

impl MemoryBlobStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many distinct blobs are stored.
    pub fn len(&self) -> usize {
        self.blobs.lock().len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.blobs.lock().is_empty()
    }
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    async fn put(&self, content_type: &str, bytes: Vec<u8>) -> Result<String, ProviderError> {
        let key = blob_key(&bytes);
        self.blobs.lock().entry(key.clone()).or_insert(Blob {
            content_type: content_type.to_owned(),
            bytes,
        });
        Ok(key)
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, ProviderError> {
        Ok(self.blobs.lock().get(key).cloned())
    }

    async fn signed_url(&self, link: &LinkRequest<'_>) -> Result<String, ProviderError> {
        Ok(format!(
            "memory://{}?expires={}&name={}",
            link.key,
            link.expires_at_secs(),
            link.file_name.unwrap_or("file")
        ))
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        self.blobs.lock().remove(key);
        Ok(())
    }
}
