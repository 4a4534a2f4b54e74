//! The local [`Mailer`]s: an outbox folder of `.eml` files, or an SMTP relay.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use lettre::address::{Address, Envelope as LettreEnvelope};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use omnidesk_core::{Mailer, OutgoingMail, ProviderError, SentMail};
use omnidesk_domain::EmailAddress;

// ---------------------------------------------------------------------------------------------
// Outbox folder

/// Writes each mail to `<dir>/<UTC yyyymmddThhmmss>-<message id>.eml`, a file any mail client
/// opens. Nothing is sent: for a deployment without a relay, and for development.
///
/// Each file is written to a temporary name, synced and renamed (a crash leaves no half
/// file). The folder is created owner-only (`0700`) and the files are `0600`: they hold
/// customers' mail.
#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
}

impl OutboxMailer {
    /// An outbox in `dir`, created at the first send if missing.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder the files go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A message id fit for a file name: letters, digits and `.-_+@=`, others as `_`, at most 100
/// characters, never starting with a dot.
fn file_stem(message_id: &str) -> String {
    let stem: String = message_id
        .trim_matches(['<', '>'])
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_+@=".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let stem = stem.trim_start_matches('.');
    if stem.is_empty() {
        "mail".to_owned()
    } else {
        stem.to_owned()
    }
}

fn write_owner_only(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    crate::private_fs::create_dir_all(dir)?;
    let path = dir.join(name);
    crate::private_fs::write_atomic(&path, bytes, true)?;
    Ok(path)
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<SentMail, ProviderError> {
        let name = format!(
            "{}-{}.eml",
            chrono::Utc::now().format("%Y%m%dT%H%M%S"),
            file_stem(&mail.message_id)
        );
        let (dir, raw) = (self.dir.clone(), mail.raw.clone());
        let path = tokio::task::spawn_blocking(move || write_owner_only(&dir, &name, &raw))
            .await
            .map_err(|e| ProviderError::Transient(format!("outbox write task failed: {e}")))?
            .map_err(|e| {
                ProviderError::Transient(format!(
                    "cannot write to the outbox {}: {e}",
                    self.dir.display()
                ))
            })?;
        Ok(SentMail {
            message_id: mail.message_id.clone(),
            location: Some(path.display().to_string()),
        })
    }

    /// Deletes the outbox files addressed to `address` (their `To`, `Cc` or `Bcc` header names
    /// it, in any case).
    async fn forget_recipient(&self, address: &EmailAddress) -> Result<usize, ProviderError> {
        let (dir, wanted) = (self.dir.clone(), address.as_str().to_ascii_lowercase());
        tokio::task::spawn_blocking(move || -> std::io::Result<usize> {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(e),
            };
            let mut deleted = 0;
            for entry in entries {
                let path = entry?.path();
                if path.extension().and_then(|e| e.to_str()) != Some("eml") {
                    continue;
                }
                let raw = std::fs::read(&path)?;
                if addressed_to(&raw, &wanted) {
                    std::fs::remove_file(&path)?;
                    deleted += 1;
                }
            }
            Ok(deleted)
        })
        .await
        .map_err(|e| ProviderError::Transient(format!("outbox task failed: {e}")))?
        .map_err(|e| ProviderError::Transient(format!("cannot clean the outbox: {e}")))
    }
}

/// Whether the header block of `raw` has a `To`, `Cc` or `Bcc` header (folded lines joined)
/// with `address` (lower-case) as one of its addresses (`Name <a@b>` or a bare `a@b`).
fn addressed_to(raw: &[u8], address: &str) -> bool {
    let text = String::from_utf8_lossy(raw);
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    headers
        .iter()
        .filter(|(name, _)| ["to", "cc", "bcc"].contains(&name.as_str()))
        .flat_map(|(_, value)| value.split(','))
        .map(|part| {
            let part = part.trim();
            match (part.rfind('<'), part.rfind('>')) {
                (Some(open), Some(close)) if open < close => &part[open + 1..close],
                _ => part,
            }
        })
        .any(|a| a.trim().eq_ignore_ascii_case(address))
}

// ---------------------------------------------------------------------------------------------
// SMTP relay

/// How long one SMTP exchange with the relay (connect, a command, the message) may take.
pub const RELAY_TIMEOUT: Duration = Duration::from_secs(30);

/// The relay URL could not be used. Never contains the URL's password.
#[derive(Debug, thiserror::Error)]
pub enum RelayUrlError {
    #[error("unsupported relay URL scheme `{0}` (use smtp://, smtp+starttls:// or smtps://)")]
    Scheme(String),
    #[error("the relay URL has no host")]
    MissingHost,
    #[error("the relay URL's port is not a number from 1 to 65535")]
    Port,
    #[error("the relay URL's user or password is not valid percent-encoded UTF-8")]
    Credentials,
    #[error("cannot set up TLS for the relay: {0}")]
    Tls(String),
}

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// `smtp://`: plain text, for a relay on the same host or private network.
    Plain,
    /// `smtp+starttls://`: STARTTLS, required.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

/// Sends mail through an SMTP relay (a local Postfix, or a provider's submission port) with
/// `lettre` over tokio and rustls: `smtp://[user:pass@]host[:port]` (plain, port 25),
/// `smtp+starttls://…` (STARTTLS required, port 587), `smtps://…` (implicit TLS, port 465).
/// The user and password are percent-decoded. The raw message is sent as composed, with the
/// envelope of the [`OutgoingMail`]; one connection per mail, each exchange limited to
/// [`RELAY_TIMEOUT`]. A `5xx` reply is `Permanent` (with the server's text); a `4xx`, a
/// timeout or a connection failure is `Transient`. The password is never shown: not in errors,
/// not in `Debug`.
#[derive(Clone)]
pub struct SmtpRelayMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    security: Security,
    host: String,
    port: u16,
    user: Option<String>,
}

impl std::fmt::Debug for SmtpRelayMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpRelayMailer")
            .field("security", &self.security)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl SmtpRelayMailer {
    /// A mailer for the relay at `url` (see the type's docs). Nothing is connected yet.
    pub fn from_url(url: &str) -> Result<Self, RelayUrlError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| RelayUrlError::Scheme(String::new()))?;
        let (security, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "smtp" => (Security::Plain, 25),
            "smtp+starttls" => (Security::StartTls, 587),
            "smtps" => (Security::Implicit, 465),
            other => return Err(RelayUrlError::Scheme(other.chars().take(20).collect())),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or(RelayUrlError::MissingHost)?;
            (host, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(RelayUrlError::MissingHost);
        }
        let port = match port {
            None => default_port,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or(RelayUrlError::Port)?,
        };
        let credentials = userinfo
            .map(|u| {
                let (user, pass) = u.split_once(':').unwrap_or((u, ""));
                Some((percent_decode(user)?, percent_decode(pass)?))
            })
            .map(|c| c.ok_or(RelayUrlError::Credentials))
            .transpose()?;
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned()).map_err(|e| RelayUrlError::Tls(e.to_string()))
        };
        let tls = match security {
            Security::Plain => Tls::None,
            Security::StartTls => Tls::Required(tls(host)?),
            Security::Implicit => Tls::Wrapper(tls(host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(RELAY_TIMEOUT));
        let user = credentials.as_ref().map(|(u, _)| u.clone());
        if let Some((user, pass)) = credentials {
            builder = builder.credentials(Credentials::new(user, pass));
        }
        Ok(Self {
            transport: builder.build(),
            security,
            host: host.to_owned(),
            port,
            user,
        })
    }
}

fn map_smtp_error(e: &lettre::transport::smtp::Error) -> ProviderError {
    let what = format!("SMTP relay: {e}");
    if e.is_permanent() || e.is_client() {
        // A 5xx reply, or a relay we cannot talk to as configured (no common AUTH mechanism).
        ProviderError::Permanent(what)
    } else {
        // A 4xx reply, a timeout, a refused or broken connection, a TLS failure.
        ProviderError::Transient(what)
    }
}

#[async_trait]
impl Mailer for SmtpRelayMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<SentMail, ProviderError> {
        let address = |a: &str| {
            a.parse::<Address>()
                .map_err(|e| ProviderError::Permanent(format!("invalid address {a}: {e}")))
        };
        let from = address(mail.from.as_str())?;
        let to = mail
            .to
            .iter()
            .map(|a| address(a.as_str()))
            .collect::<Result<Vec<_>, _>>()?;
        let envelope = LettreEnvelope::new(Some(from), to)
            .map_err(|e| ProviderError::Permanent(format!("invalid envelope: {e}")))?;
        // lettre ends the data with CRLF "." CRLF: the message's own last line end is that
        // first CRLF, so the relay receives exactly `raw`.
        let raw = mail.raw.strip_suffix(b"\r\n").unwrap_or(&mail.raw);
        self.transport
            .send_raw(&envelope, raw)
            .await
            .map_err(|e| map_smtp_error(&e))?;
        Ok(SentMail {
            message_id: mail.message_id.clone(),
            location: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mail_is_addressed_to_exactly_the_addresses_of_its_recipient_headers() {
        let raw = b"From: Support <support@example.com>\r\nTo: \"Bob, B.\" <Bob@Customer.org>,\r\n joann@a.com\r\nSubject: to bob@customer.org\r\n\r\nCc: eve@x.org\r\n";
        assert!(addressed_to(raw, "bob@customer.org"));
        assert!(addressed_to(raw, "joann@a.com"), "a folded line counts");
        assert!(
            !addressed_to(raw, "ann@a.com"),
            "not a part of another address"
        );
        assert!(
            !addressed_to(raw, "support@example.com"),
            "the sender is not a recipient"
        );
        assert!(!addressed_to(raw, "eve@x.org"), "the body is not a header");
    }

    #[tokio::test]
    async fn forgetting_a_recipient_deletes_only_their_outbox_files() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = OutboxMailer::new(dir.path());
        for (id, to) in [("a@x", "bob@customer.org"), ("b@x", "ann@customer.org")] {
            let raw = format!("To: <{to}>\r\nSubject: hi\r\n\r\nhello\r\n");
            outbox
                .send(&OutgoingMail {
                    from: EmailAddress::parse("support@example.com").unwrap(),
                    to: vec![EmailAddress::parse(to).unwrap()],
                    message_id: id.to_owned(),
                    raw: raw.into_bytes(),
                })
                .await
                .unwrap();
        }
        let bob = EmailAddress::parse("Bob@Customer.org").unwrap();
        assert_eq!(outbox.forget_recipient(&bob).await.unwrap(), 1);
        assert_eq!(outbox.forget_recipient(&bob).await.unwrap(), 0);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "Ann's mail stays");
    }

    #[test]
    fn message_ids_become_safe_file_names() {
        assert_eq!(
            file_stem("<abc.123@mail.example.com>"),
            "abc.123@mail.example.com"
        );
        assert_eq!(file_stem("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(file_stem("a b/c\\d"), "a_b_c_d");
        assert_eq!(file_stem(""), "mail");
        assert_eq!(file_stem(&"x".repeat(500)).len(), 100);
    }

    #[test]
    fn relay_urls_are_parsed_without_revealing_the_password() {
        let m = SmtpRelayMailer::from_url("smtp+starttls://me%40x.com:s3cr%3At@relay.example.com")
            .unwrap();
        assert_eq!(m.security, Security::StartTls);
        assert_eq!((m.host.as_str(), m.port), ("relay.example.com", 587));
        assert_eq!(m.user.as_deref(), Some("me@x.com"));
        let debug = format!("{m:?}");
        assert!(!debug.contains("s3cr"), "{debug}");

        let m = SmtpRelayMailer::from_url("smtps://relay.example.com:2465").unwrap();
        assert_eq!(
            (m.security, m.port, m.user),
            (Security::Implicit, 2465, None)
        );
        let m = SmtpRelayMailer::from_url("smtp://[::1]:2525").unwrap();
        assert_eq!(
            (m.security, m.host.as_str(), m.port),
            (Security::Plain, "::1", 2525)
        );
        let m = SmtpRelayMailer::from_url("smtp://localhost").unwrap();
        assert_eq!(m.port, 25);

        for (url, bad) in [
            ("http://u:topsecret@x", "topsecret"),
            ("smtp://u:topsecret@", "topsecret"),
            ("smtp://u:topsecret@host:99999", "topsecret"),
            ("smtp://u:top%zzsecret@host", "secret"),
            ("relay.example.com", "example"),
        ] {
            let e = SmtpRelayMailer::from_url(url).unwrap_err();
            assert!(!e.to_string().contains(bad), "{url}: {e}");
            assert!(!format!("{e:?}").contains(bad), "{url}: {e:?}");
        }
    }
}
