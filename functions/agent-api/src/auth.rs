//! Agent authentication: argon2id password hashes and HS256 JWTs (`sub` = agent id).

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use omnidesk_core::{Clock, SystemClock};
use omnidesk_domain::{AgentId, PasswordHash, Timestamp};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// A token was missing, malformed, forged or expired.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token was presented.
    #[error("missing bearer token")]
    Missing,
    /// The token is malformed, signed with another key, or names no agent.
    #[error("invalid token")]
    Invalid,
    /// The token was valid but its lifetime is over.
    #[error("token expired")]
    Expired,
    /// A token could not be signed (never caused by user input).
    #[error("could not sign token: {0}")]
    Signing(String),
}

/// A password could not be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not hash password: {0}")]
pub struct PasswordError(String);

impl PasswordError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

/// A freshly issued access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedToken {
    pub token: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    iat: i64,
    /// The agent's token version when it was issued (tokens from before versions: 0).
    #[serde(default)]
    ver: u64,
}

/// What an authentic, unexpired token says: whose it is and of which token version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub agent: AgentId,
    pub version: u64,
}

/// How long a refresh token lives unused unless configured (`OMNIDESK_SESSION_TTL_SECS`): 7 days.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Issues and verifies agent tokens, hashes and verifies passwords.
///
/// Expiry is checked against the injected [`Clock`] (not the system clock inside
/// `jsonwebtoken`), so tests can move time.
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    session_ttl: Duration,
    clock: Arc<dyn Clock>,
    dummy_hash: OnceLock<Option<PasswordHash>>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("secret", &"***")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Tokens signed with `jwt_secret`, valid for `token_ttl`, timed by the system clock.
    pub fn new(jwt_secret: &[u8], token_ttl: Duration) -> Self {
        Self::with_clock(jwt_secret, token_ttl, Arc::new(SystemClock))
    }

    /// The authority of a Lambda function (agent API, agent WebSocket): the signing key read
    /// from SSM Parameter Store (`JWT_SECRET_PARAM`), the token lifetime of its config.
    pub async fn from_lambda(
        aws: &omnidesk_lambda::AwsAdapters,
        config: &omnidesk_lambda::Config,
    ) -> Result<Self, omnidesk_lambda::ConfigError> {
        let secret = omnidesk_lambda::load_jwt_secret(&aws.sdk, config).await?;
        Ok(Self::with_clock(
            secret.expose().as_bytes(),
            config.token_ttl,
            aws.clock.clone(),
        )
        .with_session_ttl(config.session_ttl))
    }

    /// Like [`Auth::new`], timed by `clock`.
    pub fn with_clock(jwt_secret: &[u8], token_ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against `clock` in `verify`; the claim must still be present.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(jwt_secret),
            decoding: DecodingKey::from_secret(jwt_secret),
            validation,
            ttl: token_ttl,
            session_ttl: DEFAULT_SESSION_TTL,
            clock,
            dummy_hash: OnceLock::new(),
        }
    }

    /// How long a refresh token lives unused (each refresh starts it again): see
    /// [`crate::refresh`].
    pub fn with_session_ttl(mut self, session_ttl: Duration) -> Self {
        self.session_ttl = session_ttl;
        self
    }

    /// How long issued tokens are valid.
    pub fn token_ttl(&self) -> Duration {
        self.ttl
    }

    /// How long a refresh token lives unused.
    pub fn session_ttl(&self) -> Duration {
        self.session_ttl
    }

    /// Issues a token for `agent` (token version 0), valid from now for the configured
    /// lifetime.
    pub fn issue(&self, agent: AgentId) -> Result<IssuedToken, AuthError> {
        self.issue_version(agent, 0)
    }

    /// Issues a token for `agent` at their session version `version` ([`session_version`]):
    /// raising the version ends it.
    pub fn issue_version(&self, agent: AgentId, version: u64) -> Result<IssuedToken, AuthError> {
        let now = self.clock.now();
        let ttl_ms = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX / 2);
        let expires_at = now.plus_millis(ttl_ms);
        let claims = Claims {
            sub: agent.to_string(),
            exp: expires_at.secs(),
            iat: now.secs(),
            ver: version,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::Signing(e.to_string()))?;
        Ok(IssuedToken { token, expires_at })
    }

    /// The agent a token was issued to, if it is authentic and not expired.
    pub fn verify(&self, token: &str) -> Result<AgentId, AuthError> {
        self.verify_session(token).map(|s| s.agent)
    }

    /// [`Auth::verify`], with the token version (compare it with the agent's).
    pub fn verify_session(&self, token: &str) -> Result<Session, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| AuthError::Invalid)?;
        if data.claims.exp <= self.clock.now().secs() {
            return Err(AuthError::Expired);
        }
        Ok(Session {
            agent: AgentId::parse(&data.claims.sub).map_err(|_| AuthError::Invalid)?,
            version: data.claims.ver,
        })
    }

    /// The HMAC-SHA256 (base64url, 43 characters) of `message` under the token key: seals
    /// values the API hands out and must recognise later (page cursors). Callers keep their
    /// messages apart from JWT signing input, which never contains a NUL byte.
    pub(crate) fn seal(&self, message: &[u8]) -> Result<String, AuthError> {
        jsonwebtoken::crypto::sign(message, &self.encoding, Algorithm::HS256)
            .map_err(|e| AuthError::Signing(e.to_string()))
    }

    /// Whether `seal` is [`Auth::seal`] of `message` (compared in constant time).
    pub(crate) fn is_sealed(&self, message: &[u8], seal: &str) -> bool {
        jsonwebtoken::crypto::verify(seal, message, &self.decoding, Algorithm::HS256)
            .unwrap_or(false)
    }

    /// Hashes a password with argon2id and a random salt (PHC string). CPU-heavy: call it
    /// off the async executor (`spawn_blocking`).
    pub fn hash_password(&self, password: &str) -> Result<PasswordHash, PasswordError> {
        hash_password(password)
    }

    /// Whether `password` matches `hash`. CPU-heavy, like [`Auth::hash_password`].
    pub fn verify_password(&self, password: &str, hash: &PasswordHash) -> bool {
        verify_password(password, hash)
    }

    /// Spends the same work as a real verification, for logins with an unknown e-mail, so the
    /// answer time does not reveal whether the account exists.
    pub fn dummy_verify(&self, password: &str) {
        let hash = self
            .dummy_hash
            .get_or_init(|| hash_password("omnidesk-dummy-password").ok());
        if let Some(hash) = hash {
            let _ = verify_password(password, hash);
        }
    }
}

/// Hashes a password with argon2id (default parameters) and a random 16-byte salt.
pub fn hash_password(password: &str) -> Result<PasswordHash, PasswordError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::new(e.to_string()))?;
    let phc = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| PasswordError::new(e.to_string()))?;
    Ok(PasswordHash::from_phc(phc.to_string()))
}

/// Whether `password` matches the PHC `hash` (false for a malformed hash).
pub fn verify_password(password: &str, hash: &PasswordHash) -> bool {
    match argon2::PasswordHash::new(hash.as_phc()) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// The agent a token (as presented by a client, `None` if absent) belongs to. Used by the
/// HTTP API (bearer header) and the WebSocket `$connect` (query string).
pub fn authenticate(auth: &Auth, token: Option<&str>) -> Result<AgentId, AuthError> {
    authenticate_session(auth, token).map(|s| s.agent)
}

/// [`authenticate`], with the token version.
pub fn authenticate_session(auth: &Auth, token: Option<&str>) -> Result<Session, AuthError> {
    match token.map(str::trim) {
        None | Some("") => Err(AuthError::Missing),
        Some(t) => auth.verify_session(t),
    }
}

/// The store counter that holds an agent's session version. Kept apart from the agent's
/// record (an atomic counter no presence update can write back over): sign-out, a password or
/// role change and disabling the agent raise it, and every token of an older version is
/// refused at its next request.
fn session_counter(agent: AgentId) -> String {
    format!("session:{agent}")
}

/// The agent's current session version (0 until the first sign-out or change).
pub async fn session_version(
    agents: &dyn omnidesk_core::AgentStore,
    agent: AgentId,
) -> Result<u64, omnidesk_core::StoreError> {
    agents.counter(&session_counter(agent)).await
}

/// Ends every session of `agent` (their tokens are refused from their next request); returns
/// the new version.
pub async fn end_sessions(
    agents: &dyn omnidesk_core::AgentStore,
    agent: AgentId,
) -> Result<u64, omnidesk_core::StoreError> {
    agents.next_counter(&session_counter(agent)).await
}

/// Why a presented token opens no session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Token(#[from] AuthError),
    /// The token's agent no longer exists.
    #[error("the agent of this token no longer exists")]
    UnknownAgent,
    /// Signed out, password or role changed, or the agent was disabled.
    #[error("this session has ended")]
    Ended,
    #[error(transparent)]
    Store(#[from] omnidesk_core::StoreError),
}

/// The agent whose session `token` (as presented, `None` if absent) is: authentic, unexpired,
/// of an agent who exists and is not disabled, at the agent's current session version. The
/// HTTP API and the WebSocket's connect both ask this, one read of the agent and one of the
/// version each time.
pub async fn current_agent(
    auth: &Auth,
    agents: &dyn omnidesk_core::AgentStore,
    token: Option<&str>,
) -> Result<omnidesk_domain::Agent, SessionError> {
    let session = authenticate_session(auth, token)?;
    agent_of_session(agents, session).await
}

/// How long an agent's WebSocket ticket may wait to be used.
pub const AGENT_TICKET_TTL_MS: i64 = 60_000;

/// What an agent's WebSocket ticket grants: their session, as it was when it was issued.
#[derive(Serialize, Deserialize)]
struct TicketGrant {
    agent: AgentId,
    version: u64,
}

/// Issues a single-use WebSocket ticket for `session` (stored hashed; valid for
/// [`AGENT_TICKET_TTL_MS`]): the dashboard connects with it instead of its long-lived token,
/// which then never appears in a URL (proxy and access logs keep URLs).
pub async fn issue_ticket(
    tickets: &dyn omnidesk_core::WebStore,
    session: Session,
    now: Timestamp,
) -> Result<(String, Timestamp), omnidesk_core::StoreError> {
    let ticket = omnidesk_core::random_token();
    let hash = omnidesk_core::token_hash(&ticket);
    let expires_at = now.plus_millis(AGENT_TICKET_TTL_MS);
    let payload = serde_json::to_string(&TicketGrant {
        agent: session.agent,
        version: session.version,
    })
    .map_err(|e| omnidesk_core::StoreError::Corrupt(e.to_string()))?;
    tickets
        .put_token(&omnidesk_core::StoredToken {
            kind: omnidesk_core::TokenKind::AgentTicket,
            // Its own owner: a new ticket does not cancel one another tab is about to use.
            owner: hash.clone(),
            hash,
            payload,
            expires_at,
        })
        .await?;
    Ok((ticket, expires_at))
}

/// The agent an agent's WebSocket ticket opens a session for: the ticket is used up by this
/// call (a second use, an expired or unknown ticket: `Token(Invalid)`), and the session must
/// still be current.
pub async fn agent_of_ticket(
    tickets: &dyn omnidesk_core::WebStore,
    agents: &dyn omnidesk_core::AgentStore,
    ticket: &str,
    now: Timestamp,
) -> Result<omnidesk_domain::Agent, SessionError> {
    let taken = tickets
        .take_token(
            omnidesk_core::TokenKind::AgentTicket,
            &omnidesk_core::token_hash(ticket.trim()),
            now,
        )
        .await?
        .ok_or(SessionError::Token(AuthError::Invalid))?;
    let grant: TicketGrant = serde_json::from_str(&taken.payload)
        .map_err(|_| SessionError::Token(AuthError::Invalid))?;
    agent_of_session(
        agents,
        Session {
            agent: grant.agent,
            version: grant.version,
        },
    )
    .await
}

/// The agent of `session` when it is still current (see [`current_agent`]).
pub async fn agent_of_session(
    agents: &dyn omnidesk_core::AgentStore,
    session: Session,
) -> Result<omnidesk_domain::Agent, SessionError> {
    let (agent, version) = futures_util::future::try_join(
        agents.get_agent(session.agent),
        session_version(agents, session.agent),
    )
    .await?;
    let agent = agent.ok_or(SessionError::UnknownAgent)?;
    if agent.disabled || version != session.version {
        return Err(SessionError::Ended);
    }
    Ok(agent)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use omnidesk_core::{IdGen, UuidV7Ids};

    use super::*;

    #[derive(Default)]
    struct TestClock(AtomicI64);

    impl Clock for TestClock {
        fn now(&self) -> Timestamp {
            Timestamp::from_millis(self.0.load(Ordering::SeqCst))
        }
    }

    fn auth_at(ms: i64) -> (Auth, Arc<TestClock>) {
        let clock = Arc::new(TestClock(AtomicI64::new(ms)));
        let auth = Auth::with_clock(b"test-secret", Duration::from_secs(3600), clock.clone());
        (auth, clock)
    }

    #[test]
    fn issued_token_verifies_to_its_agent_until_it_expires() {
        let (auth, clock) = auth_at(1_700_000_000_000);
        let agent = UuidV7Ids.agent_id();
        let issued = auth.issue(agent).unwrap();
        assert_eq!(issued.expires_at.millis(), 1_700_000_000_000 + 3_600_000);
        assert_eq!(auth.verify(&issued.token), Ok(agent));
        clock
            .0
            .store(1_700_000_000_000 + 3_600_000, Ordering::SeqCst);
        assert_eq!(auth.verify(&issued.token), Err(AuthError::Expired));
    }

    #[test]
    fn token_signed_with_another_secret_or_garbage_is_invalid() {
        let (auth, clock) = auth_at(1_700_000_000_000);
        let other = Auth::with_clock(b"other", Duration::from_secs(60), clock);
        let token = other.issue(UuidV7Ids.agent_id()).unwrap().token;
        assert_eq!(auth.verify(&token), Err(AuthError::Invalid));
        assert_eq!(auth.verify("not.a.jwt"), Err(AuthError::Invalid));
        assert_eq!(authenticate(&auth, None), Err(AuthError::Missing));
        assert_eq!(authenticate(&auth, Some("  ")), Err(AuthError::Missing));
    }

    #[test]
    fn password_hash_is_salted_argon2id_and_verifies_only_the_right_password() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert!(a.as_phc().starts_with("$argon2id$"));
        assert_ne!(a, b, "a random salt makes every hash different");
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("wrong horse", &a));
        assert!(!verify_password(
            "x",
            &PasswordHash::from_phc("garbage".to_owned())
        ));
    }
}
