//! Staying signed in without a long-lived token in the page: a sign-in answers a short-lived
//! access token (`OMNIDESK_TOKEN_TTL_SECS`, 15 minutes) in its body and a refresh token in an
//! `HttpOnly`, `SameSite=Strict` cookie scoped to `/api/v1/auth` (`Secure` over HTTPS), which
//! script in the page can neither read nor send anywhere else. `POST /api/v1/auth/refresh`
//! trades the cookie for a new access token and a new refresh token (rotation: each refresh
//! token works once; a copy used after its rotation is refused).
//!
//! A refresh token lives `OMNIDESK_SESSION_TTL_SECS` (7 days) from its last use, and a session
//! at most [`MAX_SESSION_MS`] from its sign-in (then the password, and the code, again). It
//! carries the agent's session version: signing out, a password or role change and disabling
//! the agent refuse it at once, like the access tokens.
//!
//! The tokens are stored hashed as single-use tokens of one *family* (a sign-in on one
//! browser): the store keeps one per family, so a rotation cancels the previous one.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use omnidesk_core::{StoredToken, TokenKind, random_token, token_hash};
use omnidesk_domain::{Agent, AgentId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, Event};
use crate::auth::{Session, SessionError, agent_of_session};
use crate::error::ApiError;
use crate::{AppState, Me};

/// The refresh cookie's name.
pub const COOKIE: &str = "omnidesk_refresh";
/// The only paths the browser sends the cookie to: refresh and logout.
pub const COOKIE_PATH: &str = "/api/v1/auth";
/// The longest a session lasts from its sign-in, however often it is refreshed: 30 days.
pub const MAX_SESSION_MS: i64 = 30 * 24 * 3_600_000;

/// What a refresh token grants.
#[derive(Serialize, Deserialize)]
struct Grant {
    agent: AgentId,
    version: u64,
    /// The sign-in this token descends from (one per browser).
    family: String,
    signed_in_at: Timestamp,
}

/// Where a new refresh token comes from: a sign-in (a new family) or a rotation.
pub(crate) enum Lineage {
    SignIn,
    Rotation {
        family: String,
        signed_in_at: Timestamp,
    },
}

/// The answer of a sign-in, a refresh and a password change: a new access token and the agent
/// in the body, a new refresh token in the cookie.
pub(crate) async fn signed_in(
    deps: &AppState,
    headers: &HeaderMap,
    agent: Agent,
    version: u64,
    lineage: Lineage,
) -> Result<Response, ApiError> {
    let now = deps.clock.now();
    let issued = deps.auth.issue_version(agent.id, version)?;
    let (family, signed_in_at) = match lineage {
        Lineage::SignIn => (random_token(), now),
        Lineage::Rotation {
            family,
            signed_in_at,
        } => (family, signed_in_at),
    };
    let ttl_ms = i64::try_from(deps.auth.session_ttl().as_millis()).unwrap_or(i64::MAX / 4);
    // Never past the session's end: a refresh token does not outlive what it refreshes.
    let expires_at = now
        .plus_millis(ttl_ms)
        .min(signed_in_at.plus_millis(MAX_SESSION_MS));
    let token = random_token();
    let payload = serde_json::to_string(&Grant {
        agent: agent.id,
        version,
        family: family.clone(),
        signed_in_at,
    })
    .map_err(|e| omnidesk_core::StoreError::Corrupt(e.to_string()))?;
    deps.tickets
        .put_token(&StoredToken {
            kind: TokenKind::AgentRefresh,
            hash: token_hash(&token),
            // One per family: this cancels the token it replaces.
            owner: format!("{}:{family}", agent.id),
            payload,
            expires_at,
        })
        .await?;
    let max_age = (expires_at.millis() - now.millis()).max(0) / 1000;
    let body = json!({
        "token": issued.token,
        "expires_at": issued.expires_at,
        "refresh_expires_at": expires_at,
        "agent": agent,
    });
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&token, max_age, https(headers)));
    no_store(&mut response);
    Ok(response)
}

/// `POST /api/v1/auth/refresh`: the refresh cookie for a new access token and a new cookie.
/// 401 `no_session` without a valid cookie (none, unknown, used already, expired),
/// `session_ended` when the agent signed out, was changed or disabled since, `session_too_old`
/// after [`MAX_SESSION_MS`]; each clears the cookie. 403 `cross_site` from another site.
pub(crate) async fn refresh(
    State(deps): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if cross_site(&headers) {
        return Err(cross_site_refused());
    }
    let now = deps.clock.now();
    let Some(grant) = take(&deps, &headers, now).await? else {
        return Ok(refused(
            &headers,
            "no_session",
            "no sign-in to resume here (none, expired, or used already): sign in",
        ));
    };
    if now.millis() - grant.signed_in_at.millis() >= MAX_SESSION_MS {
        return Ok(refused(
            &headers,
            "session_too_old",
            "this sign-in is 30 days old: sign in again",
        ));
    }
    let session = Session {
        agent: grant.agent,
        version: grant.version,
    };
    let agent = match agent_of_session(deps.agents.as_ref(), session).await {
        Ok(agent) => agent,
        Err(SessionError::Store(e)) => return Err(e.into()),
        Err(_) => {
            return Ok(refused(
                &headers,
                "session_ended",
                "this session has ended (signed out, password or role changed, or the account \
                 was disabled or removed); sign in again",
            ));
        }
    };
    signed_in(
        &deps,
        &headers,
        agent,
        grant.version,
        Lineage::Rotation {
            family: grant.family,
            signed_in_at: grant.signed_in_at,
        },
    )
    .await
}

/// `POST /api/v1/auth/logout`: ends every session of the agent (every token and refresh token
/// they hold is refused from its next use, on every device) and clears the cookie. Signed in
/// by the access token or, when it has expired, by the refresh cookie. 204.
pub(crate) async fn logout(
    State(deps): State<AppState>,
    headers: HeaderMap,
    me: Result<Me, ApiError>,
) -> Result<Response, ApiError> {
    let agent = match me {
        Ok(me) => me.0,
        Err(refusal) => {
            if cross_site(&headers) {
                return Err(cross_site_refused());
            }
            let grant = take(&deps, &headers, deps.clock.now()).await?;
            match grant {
                Some(g)
                    if agent_of_session(deps.agents.as_ref(), session_of(&g))
                        .await
                        .is_ok() =>
                {
                    g.agent
                }
                _ => return Err(refusal),
            }
        }
    };
    crate::auth::end_sessions(deps.agents.as_ref(), agent).await?;
    tracing::info!(agent_id = %agent, "agent signed out");
    audit::record(&deps, Event::by(Some(agent), "signed_out")).await;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie("", 0, https(&headers)));
    Ok(response)
}

fn session_of(g: &Grant) -> Session {
    Session {
        agent: g.agent,
        version: g.version,
    }
}

/// The grant of the request's refresh cookie, used up by this call; `None` without a cookie or
/// for one that is unknown, used or expired.
async fn take(
    deps: &AppState,
    headers: &HeaderMap,
    now: Timestamp,
) -> Result<Option<Grant>, ApiError> {
    let Some(token) = cookie_value(headers) else {
        return Ok(None);
    };
    let Some(stored) = deps
        .tickets
        .take_token(TokenKind::AgentRefresh, &token_hash(&token), now)
        .await?
    else {
        tracing::info!("refresh refused: the token is unknown, used or expired");
        return Ok(None);
    };
    Ok(serde_json::from_str(&stored.payload).ok())
}

/// 401 with `code`, clearing the cookie.
fn refused(headers: &HeaderMap, code: &'static str, message: &str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, code, message).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie("", 0, https(headers)));
    response
}

fn cross_site_refused() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "cross_site",
        "a session is resumed only from the dashboard's own site",
    )
}

/// Whether the browser says the request comes from another site (`Sec-Fetch-Site`): the
/// `SameSite=Strict` cookie is not sent then anyway; this refuses it before any store read.
fn cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
}

/// Whether the request came over HTTPS (API Gateway and proxies say so in
/// `X-Forwarded-Proto`): only then is the cookie `Secure` (over plain HTTP on a LAN address a
/// browser would drop a `Secure` cookie, and the embedded server speaks plain HTTP).
fn https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// The `Set-Cookie` value of the refresh cookie (`max_age` 0 and an empty value: clears it).
fn cookie(token: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{COOKIE}={token}; Path={COOKIE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    // Tokens are base64url: always a valid header value.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The refresh cookie's value in the request's `Cookie` headers.
fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && !value.trim().is_empty())
        .map(|(_, value)| value.trim().to_owned())
}

/// Answers that carry tokens are never cached.
fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_http_only_strict_scoped_to_auth_and_secure_over_https() {
        let c = cookie("abc", 60, true);
        assert_eq!(
            c.to_str().unwrap(),
            "omnidesk_refresh=abc; Path=/api/v1/auth; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(
            !cookie("abc", 60, false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }

    #[test]
    fn the_cookie_is_found_among_others_and_an_empty_one_is_none() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; omnidesk_refresh=tok; b=2"),
        );
        assert_eq!(cookie_value(&h).as_deref(), Some("tok"));
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("omnidesk_refresh="),
        );
        assert_eq!(cookie_value(&h), None);
        // API Gateway's cookies joined by lambda_http, and a second header.
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("x=1"));
        h.append(
            header::COOKIE,
            HeaderValue::from_static("omnidesk_refresh=t2"),
        );
        assert_eq!(cookie_value(&h).as_deref(), Some("t2"));
    }

    #[test]
    fn https_and_cross_site_are_read_from_the_headers() {
        let mut h = HeaderMap::new();
        assert!(!https(&h) && !cross_site(&h));
        h.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS"));
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(https(&h) && cross_site(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(!cross_site(&h));
    }
}
