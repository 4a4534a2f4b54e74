//! Attachment bytes in a folder (under the data directory), with HMAC-signed download links.

use std::path::PathBuf;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use omnidesk_core::{
    Blob, BlobStore, LinkRequest, ProviderError, blob_key, is_blob_key, percent_encode,
};
use sha2::Sha256;

/// The path signed links point at: `/files/<key>?…`, relative to the server that issued them.
pub const FILES_PATH: &str = "/files/";

/// Blob storage in a folder: `<dir>/<key[0..2]>/<key>` holds the bytes and `<key>.type` their
/// content type, each written to a temporary file and renamed (a crash leaves no half file).
/// Links are `/files/<key>?exp=<unix secs>&type=<type>&name=<name>&sig=<HMAC-SHA256>` signed
/// with the deployment's key: the server checks them with [`FolderBlobStore::verify`] and
/// serves the bytes with the type, disposition and `nosniff` the link names.
pub struct FolderBlobStore {
    dir: PathBuf,
    key: Vec<u8>,
}

/// Why a link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is malformed")]
    Malformed,
    #[error("the link has expired")]
    Expired,
    #[error("the link's signature does not match")]
    BadSignature,
}

/// The parts of a signed link, as its query string carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedLink {
    pub key: String,
    pub expires_at_secs: i64,
    pub content_type: String,
    pub file_name: String,
    pub signature: String,
}

impl FolderBlobStore {
    /// A store in `dir` (created if missing) whose links are signed with `signing_key`.
    pub fn open(dir: impl Into<PathBuf>, signing_key: &[u8]) -> std::io::Result<Self> {
        let dir = dir.into();
        crate::private_fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            // Links get a key of their own, derived from the deployment's secret.
            key: derive(signing_key, b"omnidesk file links v1"),
        })
    }

    fn path_of(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(key)
    }

    fn mac(&self, key: &str, expires: i64, content_type: &str, name: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(format!("{key}\n{expires}\n{content_type}\n{name}").as_bytes());
        mac
    }

    /// Checks a link at `now_secs` (Unix seconds): the signature in constant time, then the
    /// expiry.
    pub fn verify(&self, link: &SignedLink, now_secs: i64) -> Result<(), LinkError> {
        if !is_blob_key(&link.key) {
            return Err(LinkError::Malformed);
        }
        let mac = self.mac(
            &link.key,
            link.expires_at_secs,
            &link.content_type,
            &link.file_name,
        );
        let given = unhex(&link.signature).ok_or(LinkError::BadSignature)?;
        if mac.verify_slice(&given).is_err() {
            return Err(LinkError::BadSignature);
        }
        if now_secs >= link.expires_at_secs {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

fn derive(secret: &[u8], label: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(label);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn io_err(what: &str, e: &std::io::Error) -> ProviderError {
    ProviderError::Transient(format!("{what}: {e}"))
}

#[async_trait]
impl BlobStore for FolderBlobStore {
    async fn put(&self, content_type: &str, bytes: Vec<u8>) -> Result<String, ProviderError> {
        let key = blob_key(&bytes);
        let path = self.path_of(&key);
        let content_type = content_type.to_owned();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            if path.exists() {
                return Ok(());
            }
            if let Some(parent) = path.parent() {
                crate::private_fs::create_dir_all(parent)?;
            }
            crate::private_fs::write_atomic(
                &path.with_extension("type"),
                content_type.as_bytes(),
                false,
            )?;
            crate::private_fs::write_atomic(&path, &bytes, false)
        })
        .await
        .map_err(|e| ProviderError::Transient(format!("blob write task: {e}")))?
        .map_err(|e| io_err("storing a file", &e))?;
        Ok(key)
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, ProviderError> {
        if !is_blob_key(key) {
            return Ok(None);
        }
        let path = self.path_of(key);
        tokio::task::spawn_blocking(move || -> std::io::Result<Option<Blob>> {
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            let content_type = std::fs::read_to_string(path.with_extension("type"))
                .unwrap_or_else(|_| "application/octet-stream".to_owned());
            Ok(Some(Blob {
                content_type,
                bytes,
            }))
        })
        .await
        .map_err(|e| ProviderError::Transient(format!("blob read task: {e}")))?
        .map_err(|e| io_err("reading a file", &e))
    }

    async fn signed_url(&self, link: &LinkRequest<'_>) -> Result<String, ProviderError> {
        if !is_blob_key(link.key) {
            return Err(ProviderError::Permanent(format!(
                "`{}` is not a blob key",
                link.key
            )));
        }
        let expires = link.expires_at_secs();
        let name = omnidesk_domain::clean_file_name(link.file_name.unwrap_or("file"));
        let sig = hex(&self
            .mac(link.key, expires, link.content_type, &name)
            .finalize()
            .into_bytes());
        Ok(format!(
            "{FILES_PATH}{}?exp={expires}&type={}&name={}&sig={sig}",
            link.key,
            percent_encode(link.content_type),
            percent_encode(&name)
        ))
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        if !is_blob_key(key) {
            return Ok(());
        }
        let path = self.path_of(key);
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            for p in [path.clone(), path.with_extension("type")] {
                match std::fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| ProviderError::Transient(format!("blob delete task: {e}")))?
        .map_err(|e| io_err("deleting a file", &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnidesk_domain::Timestamp;
    use std::time::Duration;

    fn parse(url: &str) -> SignedLink {
        let (path, query) = url.split_once('?').unwrap();
        let mut link = SignedLink {
            key: path.trim_start_matches(FILES_PATH).to_owned(),
            expires_at_secs: 0,
            content_type: String::new(),
            file_name: String::new(),
            signature: String::new(),
        };
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap();
            let v = percent_decode(v);
            match k {
                "exp" => link.expires_at_secs = v.parse().unwrap(),
                "type" => link.content_type = v,
                "name" => link.file_name = v,
                "sig" => link.signature = v,
                _ => {}
            }
        }
        link
    }

    fn percent_decode(v: &str) -> String {
        let b = v.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_puts_of_the_same_file_keep_its_bytes_and_its_type() {
        // Each round: 8 puts of one new file at once (a photo fetched twice, an upload retried).
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(FolderBlobStore::open(dir.path(), b"secret").unwrap());
        for round in 0..40u32 {
            let bytes = format!("\u{ff}\u{d8} jpeg bytes of photo {round}").into_bytes();
            let puts: Vec<_> = (0..8)
                .map(|_| {
                    let (store, bytes) = (store.clone(), bytes.clone());
                    tokio::spawn(async move { store.put("image/jpeg", bytes).await.unwrap() })
                })
                .collect();
            let mut keys = Vec::new();
            for p in puts {
                keys.push(p.await.unwrap());
            }
            keys.dedup();
            assert_eq!(keys.len(), 1);
            let blob = store.get(&keys[0]).await.unwrap().unwrap();
            assert_eq!(blob.bytes, bytes, "round {round}: the file's own bytes");
            assert_eq!(blob.content_type, "image/jpeg", "round {round}");
        }
        let leftovers: Vec<_> = walk(dir.path())
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(".tmp"))
            })
            .collect();
        assert!(
            leftovers.is_empty(),
            "no temporary file left: {leftovers:?}"
        );
    }

    fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    #[tokio::test]
    async fn links_verify_until_they_expire_and_cannot_be_altered() {
        let dir = tempfile::tempdir().unwrap();
        let store = FolderBlobStore::open(dir.path(), b"secret").unwrap();
        let key = store.put("image/png", b"png bytes".to_vec()).await.unwrap();
        assert_eq!(
            key,
            store.put("image/png", b"png bytes".to_vec()).await.unwrap()
        );
        let blob = store.get(&key).await.unwrap().unwrap();
        assert_eq!(blob.content_type, "image/png");
        assert_eq!(store.get(&"0".repeat(64)).await.unwrap(), None);

        let now = Timestamp::from_millis(1_000_000);
        let url = store
            .signed_url(&LinkRequest {
                key: &key,
                file_name: Some("shot 1.png"),
                content_type: "image/png",
                now,
                ttl: Duration::from_secs(60),
            })
            .await
            .unwrap();
        let link = parse(&url);
        assert_eq!(link.file_name, "shot 1.png");
        assert_eq!(store.verify(&link, 1_000), Ok(()));
        assert_eq!(store.verify(&link, 1_060), Err(LinkError::Expired));
        let mut other = link.clone();
        other.content_type = "text/html".into();
        assert_eq!(store.verify(&other, 1_000), Err(LinkError::BadSignature));
        let mut later = link.clone();
        later.expires_at_secs += 3600;
        assert_eq!(store.verify(&later, 1_000), Err(LinkError::BadSignature));
        let other_store = FolderBlobStore::open(dir.path(), b"other").unwrap();
        assert_eq!(
            other_store.verify(&link, 1_000),
            Err(LinkError::BadSignature)
        );
    }
}
