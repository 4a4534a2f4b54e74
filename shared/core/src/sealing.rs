//! Secrets at rest: bot tokens, webhook secrets and websites' identity secrets are stored
//! sealed (AES-256-GCM), so that a copy of the database — a SQLite file, a DynamoDB export or
//! backup — does not read as the company's bot.
//!
//! A sealed value is `sealed:v1:<base64url of nonce ‖ ciphertext ‖ tag>`, its additional data
//! the field it belongs to (`bot:<id>:token`, …): a sealed value moved into another record or
//! field does not open. The key is derived (HKDF-SHA256) from the deployment's secrets key: a
//! file beside the JWT key locally (`<data dir>/secrets-key`), an SSM SecureString on AWS.
//!
//! A value without the prefix is a plain secret stored before sealing: it is read as it is,
//! and sealed by the next write (`omnidesk serve` re-writes every bot and website at start).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use crate::{BotConfig, Secret, StoreError, Website};

/// The prefix of a sealed value.
pub const SEALED_PREFIX: &str = "sealed:v1:";

/// Seals and opens secrets under one key.
pub struct SecretSealer {
    key: LessSafeKey,
}

impl std::fmt::Debug for SecretSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretSealer(***)")
    }
}

/// A sealed value that does not open: another key, another field, or damaged.
#[derive(Debug, thiserror::Error)]
#[error("a sealed secret of {context} does not open with this deployment's secrets key")]
pub struct SealError {
    context: String,
}

impl From<SealError> for StoreError {
    fn from(e: SealError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

impl SecretSealer {
    /// The sealer of the secrets key `material` (at least 32 bytes of it are random).
    pub fn new(material: &[u8]) -> Self {
        let salt = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"omnidesk secrets at rest");
        let prk = salt.extract(material);
        let okm = prk
            .expand(&[b"aes-256-gcm v1"], &AES_256_GCM)
            .expect("HKDF yields one AES-256 key");
        Self {
            key: LessSafeKey::new(UnboundKey::from(okm)),
        }
    }

    /// `plain` sealed for the field `context`.
    pub fn seal(&self, plain: &str, context: &str) -> String {
        let nonce_bytes = crate::random_bytes::<NONCE_LEN>();
        let mut buf = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM seals any length a secret has");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        format!(
            "{SEALED_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
        )
    }

    /// The secret in `stored`: opened when sealed, as it is when it is a plain value stored
    /// before sealing.
    pub fn open(&self, stored: &str, context: &str) -> Result<String, SealError> {
        let Some(body) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(stored.to_owned());
        };
        let fail = || SealError {
            context: context.to_owned(),
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| fail())?;
        if bytes.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
        let mut buf = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| fail())?;
        String::from_utf8(plain.to_vec()).map_err(|_| fail())
    }

    fn seal_secret(&self, s: &Secret, context: &str) -> Secret {
        Secret::new(self.seal(s.expose(), context))
    }

    fn open_secret(&self, s: &Secret, context: &str) -> Result<Secret, SealError> {
        self.open(s.expose(), context).map(Secret::new)
    }

    /// `bot` as stored: its token and webhook secret sealed.
    pub fn seal_bot(&self, bot: &BotConfig) -> BotConfig {
        let mut sealed = bot.clone();
        sealed.token = self.seal_secret(&bot.token, &format!("bot:{}:token", bot.id));
        sealed.webhook_secret = self.seal_secret(
            &bot.webhook_secret,
            &format!("bot:{}:webhook_secret", bot.id),
        );
        sealed
    }

    /// A stored bot with its secrets opened.
    pub fn open_bot(&self, mut bot: BotConfig) -> Result<BotConfig, SealError> {
        bot.token = self.open_secret(&bot.token, &format!("bot:{}:token", bot.id))?;
        bot.webhook_secret = self.open_secret(
            &bot.webhook_secret,
            &format!("bot:{}:webhook_secret", bot.id),
        )?;
        Ok(bot)
    }

    /// `website` as stored: its identity secret sealed.
    pub fn seal_website(&self, website: &Website) -> Website {
        let mut sealed = website.clone();
        sealed.identity_secret = website
            .identity_secret
            .as_ref()
            .map(|s| self.seal_secret(s, &format!("website:{}:identity_secret", website.id)));
        sealed
    }

    /// A stored website with its identity secret opened.
    pub fn open_website(&self, mut website: Website) -> Result<Website, SealError> {
        if let Some(s) = &website.identity_secret {
            website.identity_secret =
                Some(self.open_secret(s, &format!("website:{}:identity_secret", website.id))?);
        }
        Ok(website)
    }
}

type KeyLoad =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send>> + Send + Sync>;

/// Where a store gets its sealer: a key at hand, or one fetched on first use (AWS: the SSM
/// parameter, read by the first call that stores or reads a secret, not at cold start). A
/// failed fetch is not cached: that call fails as unavailable, the next one tries again.
pub struct Sealing {
    cell: tokio::sync::OnceCell<Arc<SecretSealer>>,
    load: Option<KeyLoad>,
}

impl std::fmt::Debug for Sealing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealing")
            .field("ready", &self.cell.initialized())
            .finish()
    }
}

impl Sealing {
    /// Sealing under the key `material`.
    pub fn with_key(material: &[u8]) -> Self {
        Self {
            cell: tokio::sync::OnceCell::from(Arc::new(SecretSealer::new(material))),
            load: None,
        }
    }

    /// Sealing under a key `load` fetches on first use.
    pub fn lazy(
        load: impl Fn() -> Pin<Box<dyn Future<Output = Result<Vec<u8>, String>> + Send>>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self {
            cell: tokio::sync::OnceCell::new(),
            load: Some(Box::new(load)),
        }
    }

    /// The sealer (fetching the key the first time).
    pub async fn sealer(&self) -> Result<Arc<SecretSealer>, StoreError> {
        self.cell
            .get_or_try_init(|| async {
                let load = self.load.as_ref().ok_or_else(|| {
                    StoreError::Unavailable("no secrets key is configured".to_owned())
                })?;
                let material = load().await.map_err(|e| {
                    StoreError::Unavailable(format!("the secrets key could not be read: {e}"))
                })?;
                if material.len() < 32 {
                    return Err(StoreError::Unavailable(
                        "the secrets key must be at least 32 bytes".to_owned(),
                    ));
                }
                Ok(Arc::new(SecretSealer::new(&material)))
            })
            .await
            .cloned()
    }
}

/// Whether `s` is stored sealed (not a plain value from before sealing).
pub fn is_sealed(s: &Secret) -> bool {
    s.expose().starts_with(SEALED_PREFIX)
}

/// `bot` as a store writes it: sealed when the store has `sealing`.
pub async fn bot_to_store(
    sealing: Option<&Sealing>,
    bot: &BotConfig,
) -> Result<BotConfig, StoreError> {
    match sealing {
        Some(s) => Ok(s.sealer().await?.seal_bot(bot)),
        None => Ok(bot.clone()),
    }
}

/// A bot as a store read it, its secrets opened (the key is fetched only when one is sealed).
pub async fn bot_from_store(
    sealing: Option<&Sealing>,
    bot: BotConfig,
) -> Result<BotConfig, StoreError> {
    if !(is_sealed(&bot.token) || is_sealed(&bot.webhook_secret)) {
        return Ok(bot);
    }
    let sealing = sealing.ok_or_else(no_key)?;
    Ok(sealing.sealer().await?.open_bot(bot)?)
}

/// `website` as a store writes it: sealed when the store has `sealing`.
pub async fn website_to_store(
    sealing: Option<&Sealing>,
    website: &Website,
) -> Result<Website, StoreError> {
    match sealing {
        Some(s) if website.identity_secret.is_some() => Ok(s.sealer().await?.seal_website(website)),
        _ => Ok(website.clone()),
    }
}

/// A website as a store read it, its identity secret opened.
pub async fn website_from_store(
    sealing: Option<&Sealing>,
    website: Website,
) -> Result<Website, StoreError> {
    if !website.identity_secret.as_ref().is_some_and(is_sealed) {
        return Ok(website);
    }
    let sealing = sealing.ok_or_else(no_key)?;
    Ok(sealing.sealer().await?.open_website(website)?)
}

/// The stored form of `agent`'s TOTP secret: sealed when the store has `sealing`.
pub async fn totp_to_store(
    sealing: Option<&Sealing>,
    agent: &omnidesk_domain::Agent,
) -> Result<Option<String>, StoreError> {
    let Some(secret) = &agent.totp_secret else {
        return Ok(None);
    };
    Ok(Some(match sealing {
        Some(s) => s
            .sealer()
            .await?
            .seal(secret.expose(), &format!("agent:{}:totp", agent.id)),
        None => secret.expose().to_owned(),
    }))
}

/// An agent's TOTP secret as a store read it, opened.
pub async fn totp_from_store(
    sealing: Option<&Sealing>,
    agent: omnidesk_domain::AgentId,
    stored: Option<String>,
) -> Result<Option<omnidesk_domain::TotpSecret>, StoreError> {
    let Some(stored) = stored else {
        return Ok(None);
    };
    if !stored.starts_with(SEALED_PREFIX) {
        return Ok(Some(omnidesk_domain::TotpSecret::new(stored)));
    }
    let sealing = sealing.ok_or_else(no_key)?;
    let plain = sealing
        .sealer()
        .await?
        .open(&stored, &format!("agent:{agent}:totp"))?;
    Ok(Some(omnidesk_domain::TotpSecret::new(plain)))
}

fn no_key() -> StoreError {
    StoreError::Corrupt(
        "a secret is stored sealed, but this process has no secrets key to open it".to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef-test-key";

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_field() {
        let sealer = SecretSealer::new(KEY);
        let sealed = sealer.seal("4242:AAsecret-token", "bot:4242:token");
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert!(!sealed.contains("AAsecret"));
        assert_ne!(
            sealed,
            sealer.seal("4242:AAsecret-token", "bot:4242:token"),
            "a fresh nonce each time"
        );
        assert_eq!(
            sealer.open(&sealed, "bot:4242:token").unwrap(),
            "4242:AAsecret-token"
        );
        assert!(
            sealer.open(&sealed, "bot:4243:token").is_err(),
            "another record"
        );
        assert!(
            sealer.open(&sealed, "bot:4242:webhook_secret").is_err(),
            "another field"
        );
        let other = SecretSealer::new(b"another key, also 32 bytes long!!");
        assert!(
            other.open(&sealed, "bot:4242:token").is_err(),
            "another key"
        );
        let mut damaged = sealed.clone();
        damaged.pop();
        damaged.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(sealer.open(&damaged, "bot:4242:token").is_err(), "damaged");
        // A plain value stored before sealing reads as it is.
        assert_eq!(sealer.open("plain", "bot:4242:token").unwrap(), "plain");
        let e = sealer.open(&damaged, "bot:4242:token").unwrap_err();
        assert!(!e.to_string().contains("AAsecret"), "{e}");
    }

    #[tokio::test]
    async fn a_lazy_key_is_fetched_once_and_a_failure_is_not_kept() {
        let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let seen = calls.clone();
        let sealing = Sealing::lazy(move || {
            let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move {
                if n == 0 {
                    Err("SSM timed out".to_owned())
                } else {
                    Ok(KEY.to_vec())
                }
            })
        });
        assert!(matches!(
            sealing.sealer().await,
            Err(StoreError::Unavailable(_))
        ));
        let sealer = sealing.sealer().await.unwrap();
        sealing.sealer().await.unwrap();
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        let sealed = sealer.seal("x", "c");
        assert_eq!(SecretSealer::new(KEY).open(&sealed, "c").unwrap(), "x");
    }
}
