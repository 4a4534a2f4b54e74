//! The TOTP second factor (RFC 6238 over RFC 4226: HMAC-SHA1, 6 digits, 30-second steps — what
//! every authenticator app computes): setting it up, confirming, turning it off, and checking
//! a code at sign-in. A code is accepted one step early or late (clock drift) and only once
//! (a store counter per agent and step: a code seen on the wire cannot sign in again).

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use omnidesk_core::AgentStore;
use omnidesk_domain::{Agent, Timestamp, TotpSecret};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::agents::check_current_password;
use crate::audit::{self, Event};
use crate::error::{ApiError, Body};
use crate::signin::ClientAddr;
use crate::{AppState, Me};

/// Seconds per step.
const STEP_SECS: i64 = 30;
/// Digits of a code.
const DIGITS: u32 = 6;
/// Bytes of a new secret (160 bits, RFC 4226's recommendation).
const SECRET_BYTES: usize = 20;
/// The issuer authenticator apps show.
const ISSUER: &str = "omnidesk";

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let v = BASE32
            .iter()
            .position(|&x| x == c.to_ascii_uppercase() as u8)? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// A new random secret.
pub fn new_secret() -> TotpSecret {
    TotpSecret::new(base32_encode(&omnidesk_core::random_bytes::<SECRET_BYTES>()))
}

/// The code of `key` at step `step` (RFC 4226's dynamic truncation).
fn code_at(key: &[u8], step: u64) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let mac = ring::hmac::sign(&key, &step.to_be_bytes());
    let mac = mac.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = (u32::from(mac[offset] & 0x7f) << 24)
        | (u32::from(mac[offset + 1]) << 16)
        | (u32::from(mac[offset + 2]) << 8)
        | u32::from(mac[offset + 3]);
    format!(
        "{:0width$}",
        binary % 10u32.pow(DIGITS),
        width = DIGITS as usize
    )
}

/// The code of `secret` at `at` (what an authenticator app shows then); `None` for a secret
/// that is not base32.
pub fn code_of(secret: &TotpSecret, at: Timestamp) -> Option<String> {
    let key = base32_decode(secret.expose())?;
    u64::try_from(at.millis().div_euclid(1000 * STEP_SECS))
        .ok()
        .map(|step| code_at(&key, step))
}

/// The step `code` is right for at `now` (this step, one before or one after), if any.
pub fn matching_step(secret: &TotpSecret, code: &str, now: Timestamp) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let key = base32_decode(secret.expose())?;
    let now_step = now.millis().div_euclid(1000 * STEP_SECS);
    (now_step - 1..=now_step + 1)
        .filter_map(|s| u64::try_from(s).ok())
        .find(|&s| {
            // Every digit compared, whatever the first difference (no early exit).
            bool::from(code_at(&key, s).as_bytes().ct_eq(code.as_bytes()))
        })
}

/// Whether `code` is right for `agent` now and was not used before (the step is marked used).
pub async fn accept(
    agents: &dyn AgentStore,
    agent: &Agent,
    code: &str,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let Some(secret) = &agent.totp_secret else {
        return Ok(false);
    };
    let Some(step) = matching_step(secret, code, now) else {
        return Ok(false);
    };
    let forget_at = Timestamp::from_millis(
        (i64::try_from(step).unwrap_or(i64::MAX / 2_000_000) + 3) * STEP_SECS * 1000,
    );
    let seen = agents
        .next_counter_until(&format!("totp-step:{}:{step}", agent.id), forget_at)
        .await?;
    Ok(seen == 1)
}

/// `otpauth://totp/…`: what authenticator apps read (also from a QR code of it).
fn otpauth_url(account: &str, secret: &TotpSecret) -> String {
    format!(
        "otpauth://totp/{ISSUER}:{}?secret={}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        omnidesk_core::percent_encode(account),
        secret.expose()
    )
}

fn invalid_code() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "invalid_code",
        "code: that code is not right (or was used already); check the time on your phone and \
         use the next one",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetupRequest {
    password: String,
}

/// `POST /api/v1/agents/me/totp`: a new secret to add to an authenticator app (the password
/// proves it is the agent). It takes effect once a code of it is confirmed.
pub(crate) async fn setup(
    State(deps): State<AppState>,
    address: Option<Extension<ClientAddr>>,
    me: Me,
    Body(req): Body<SetupRequest>,
) -> Result<Response, ApiError> {
    let mut agent = (*me.1).clone();
    if agent.totp {
        return Err(ApiError::conflict(
            "totp_on",
            "two-factor sign-in is on already; turn it off first to set up another device",
        ));
    }
    if let Some(r) = check_current_password(
        &deps,
        address.map(|Extension(a)| a),
        &agent,
        req.password,
        "password",
    )
    .await?
    {
        return Ok(r);
    }
    let secret = new_secret();
    agent.totp_secret = Some(secret.clone());
    deps.agents.update_agent(&agent).await?;
    Ok(Json(json!({
        "secret": secret.expose(),
        "otpauth_url": otpauth_url(agent.email.as_str(), &secret),
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfirmRequest {
    code: String,
}

/// `POST /api/v1/agents/me/totp/confirm`: turns two-factor sign-in on with a code of the secret
/// set up.
pub(crate) async fn confirm(
    State(deps): State<AppState>,
    me: Me,
    Body(req): Body<ConfirmRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut agent = (*me.1).clone();
    if agent.totp {
        return Ok(Json(json!({ "totp": true })));
    }
    if agent.totp_secret.is_none() {
        return Err(ApiError::conflict(
            "no_totp_setup",
            "set up two-factor sign-in first (POST /api/v1/agents/me/totp)",
        ));
    }
    if !accept(deps.agents.as_ref(), &agent, &req.code, deps.clock.now()).await? {
        return Err(invalid_code());
    }
    agent.totp = true;
    deps.agents.update_agent(&agent).await?;
    tracing::info!(agent_id = %agent.id, "two-factor sign-in turned on");
    audit::record(&deps, Event::by(Some(agent.id), "totp_enabled")).await;
    Ok(Json(json!({ "totp": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DisableRequest {
    password: String,
    code: String,
}

/// `POST /api/v1/agents/me/totp/disable`: turns it off (the password and a current code).
pub(crate) async fn disable(
    State(deps): State<AppState>,
    address: Option<Extension<ClientAddr>>,
    me: Me,
    Body(req): Body<DisableRequest>,
) -> Result<Response, ApiError> {
    let mut agent = (*me.1).clone();
    if let Some(r) = check_current_password(
        &deps,
        address.map(|Extension(a)| a),
        &agent,
        req.password,
        "password",
    )
    .await?
    {
        return Ok(r);
    }
    if agent.totp && !accept(deps.agents.as_ref(), &agent, &req.code, deps.clock.now()).await? {
        return Err(invalid_code());
    }
    let was_on = agent.totp;
    agent.totp = false;
    agent.totp_secret = None;
    deps.agents.update_agent(&agent).await?;
    if was_on {
        tracing::info!(agent_id = %agent.id, "two-factor sign-in turned off");
        audit::record(&deps, Event::by(Some(agent.id), "totp_disabled")).await;
    }
    Ok(Json(json!({ "totp": false })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_rfc_6238() {
        // RFC 6238 appendix B, SHA-1, the last 6 of the 8 digits.
        let key = b"12345678901234567890";
        for (secs, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(key, secs / 30), code, "T = {secs}");
        }
        let secret = TotpSecret::new(base32_encode(key));
        assert_eq!(secret.expose(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let at = |s: i64| Timestamp::from_millis(s * 1000);
        assert_eq!(
            matching_step(&secret, "005924", at(1_234_567_890)),
            Some(41_152_263)
        );
        assert!(
            matching_step(&secret, "005924", at(1_234_567_890 + 30)).is_some(),
            "one late"
        );
        assert_eq!(
            matching_step(&secret, "005924", at(1_234_567_890 + 90)),
            None
        );
        assert_eq!(matching_step(&secret, "00592", at(1_234_567_890)), None);
        assert_eq!(matching_step(&secret, "abcdef", at(1_234_567_890)), None);
    }

    #[test]
    fn base32_round_trips_and_new_secrets_are_160_bits() {
        for bytes in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(base32_decode(&base32_encode(bytes)).unwrap(), bytes);
        }
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        let s = new_secret();
        assert_eq!(base32_decode(s.expose()).unwrap().len(), SECRET_BYTES);
        assert!(
            otpauth_url("ann@example.com", &s)
                .starts_with("otpauth://totp/omnidesk:ann%40example.com?secret=")
        );
    }
}
