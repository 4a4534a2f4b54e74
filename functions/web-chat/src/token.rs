//! Visitor tokens: opaque, signed, expiring. `v1.<payload>.<signature>`, both parts base64url;
//! the payload is `{"w":<website>,"v":<visitor>,"e":<expiry ms>}` and the signature its
//! HMAC-SHA256 under a key derived from the server secret. Nothing is stored per token: a
//! page view costs no write.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use omnidesk_domain::{Timestamp, VisitorId, WebsiteId};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a valid visitor token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitorClaims {
    pub website_id: WebsiteId,
    pub visitor_id: VisitorId,
    pub expires_at: Timestamp,
}

/// Why a token was refused (each answered with the same 401; the kind is for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed or forged visitor token")]
    Invalid,
    #[error("visitor token expired")]
    Expired,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    w: WebsiteId,
    v: VisitorId,
    e: i64,
}

/// Signs and checks visitor tokens.
#[derive(Clone)]
pub struct VisitorKeys {
    key: [u8; 32],
}

impl std::fmt::Debug for VisitorKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VisitorKeys(***)")
    }
}

impl VisitorKeys {
    /// Keys derived from the server secret (the agents' JWT secret): a visitor token can never
    /// pass as an agent token or the other way round, since the keys differ.
    pub fn derive(secret: &[u8]) -> Self {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(secret).expect("any key length");
        mac.update(b"omnidesk visitor tokens v1");
        let mut key = [0u8; 32];
        key.copy_from_slice(&mac.finalize().into_bytes());
        Self { key }
    }

    fn mac(&self) -> HmacSha256 {
        <HmacSha256 as Mac>::new_from_slice(&self.key).expect("any key length")
    }

    /// A token for `claims`.
    pub fn issue(&self, claims: &VisitorClaims) -> String {
        let payload = serde_json::to_vec(&Payload {
            w: claims.website_id,
            v: claims.visitor_id,
            e: claims.expires_at.millis(),
        })
        .unwrap_or_default();
        let body = B64.encode(payload);
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        format!("v1.{body}.{sig}")
    }

    /// The claims of a genuine token that has not expired at `now`.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<VisitorClaims, TokenError> {
        let mut parts = token.split('.');
        let (Some("v1"), Some(body), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Invalid);
        };
        let sig = B64.decode(sig).map_err(|_| TokenError::Invalid)?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&sig).map_err(|_| TokenError::Invalid)?;
        let payload: Payload = B64
            .decode(body)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Invalid)?;
        let claims = VisitorClaims {
            website_id: payload.w,
            visitor_id: payload.v,
            expires_at: Timestamp::from_millis(payload.e),
        };
        if claims.expires_at <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// What a valid upload token says: a file one visitor uploaded (its blob key, name, type and
/// size), until when it may be attached to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadClaims {
    pub website_id: WebsiteId,
    pub visitor_id: VisitorId,
    pub blob: String,
    pub file_name: String,
    pub mime_type: String,
    pub size_bytes: u64,
    pub expires_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
struct UploadPayload {
    w: WebsiteId,
    v: VisitorId,
    k: String,
    n: String,
    m: String,
    s: u64,
    e: i64,
}

/// What an upload token's signature covers besides its payload: it can never pass as a
/// visitor token, nor a visitor token as an upload.
const UPLOAD_DOMAIN: &[u8] = b"omnidesk upload v1:";

impl VisitorKeys {
    /// An upload token (`u1.<payload>.<signature>`): the file is the visitor's to attach, and
    /// nothing about it (key, name, type, size, owner) can be changed.
    pub fn issue_upload(&self, claims: &UploadClaims) -> String {
        let payload = serde_json::to_vec(&UploadPayload {
            w: claims.website_id,
            v: claims.visitor_id,
            k: claims.blob.clone(),
            n: claims.file_name.clone(),
            m: claims.mime_type.clone(),
            s: claims.size_bytes,
            e: claims.expires_at.millis(),
        })
        .unwrap_or_default();
        let body = B64.encode(payload);
        let mut mac = self.mac();
        mac.update(UPLOAD_DOMAIN);
        mac.update(body.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        format!("u1.{body}.{sig}")
    }

    /// The claims of a genuine upload token that has not expired at `now`.
    pub fn verify_upload(&self, token: &str, now: Timestamp) -> Result<UploadClaims, TokenError> {
        let mut parts = token.split('.');
        let (Some("u1"), Some(body), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Invalid);
        };
        let sig = B64.decode(sig).map_err(|_| TokenError::Invalid)?;
        let mut mac = self.mac();
        mac.update(UPLOAD_DOMAIN);
        mac.update(body.as_bytes());
        mac.verify_slice(&sig).map_err(|_| TokenError::Invalid)?;
        let p: UploadPayload = B64
            .decode(body)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Invalid)?;
        if p.e <= now.millis() {
            return Err(TokenError::Expired);
        }
        Ok(UploadClaims {
            website_id: p.w,
            visitor_id: p.v,
            blob: p.k,
            file_name: p.n,
            mime_type: p.m,
            size_bytes: p.s,
            expires_at: Timestamp::from_millis(p.e),
        })
    }
}

pub use omnidesk_core::random_token;

#[cfg(test)]
mod tests {
    use super::*;
    use uuid_like::ids;

    mod uuid_like {
        pub fn ids() -> (omnidesk_domain::WebsiteId, omnidesk_domain::VisitorId) {
            (
                omnidesk_domain::WebsiteId::parse("web_0190a1b2c3d47e8f9a0b1c2d3e4f5a6b").unwrap(),
                omnidesk_domain::VisitorId::parse("vis_0190a1b2c3d47e8f9a0b1c2d3e4f5a6c").unwrap(),
            )
        }
    }

    #[test]
    fn a_token_round_trips_and_refuses_tampering_expiry_and_other_keys() {
        let keys = VisitorKeys::derive(b"0123456789abcdef0123456789abcdef");
        let (w, v) = ids();
        let claims = VisitorClaims {
            website_id: w,
            visitor_id: v,
            expires_at: Timestamp::from_millis(10_000),
        };
        let token = keys.issue(&claims);
        assert_eq!(keys.verify(&token, Timestamp::from_millis(1)), Ok(claims));
        assert_eq!(
            keys.verify(&token, Timestamp::from_millis(10_000)),
            Err(TokenError::Expired)
        );
        let other = VisitorKeys::derive(b"another secret of enough length!!");
        assert_eq!(
            other.verify(&token, Timestamp::from_millis(1)),
            Err(TokenError::Invalid)
        );
        // A payload swapped under the same signature is refused.
        let forged = keys.issue(&VisitorClaims {
            expires_at: Timestamp::from_millis(i64::MAX),
            ..claims
        });
        let (_, forged_body) = forged.split_once('.').unwrap();
        let forged_body = forged_body.split('.').next().unwrap();
        let sig = token.rsplit('.').next().unwrap();
        assert_eq!(
            keys.verify(
                &format!("v1.{forged_body}.{sig}"),
                Timestamp::from_millis(1)
            ),
            Err(TokenError::Invalid)
        );
        for junk in ["", "v1", "v1..", "v2.a.b", "v1.a.b.c", "v1.!!.??"] {
            assert_eq!(
                keys.verify(junk, Timestamp::from_millis(1)),
                Err(TokenError::Invalid)
            );
        }
    }

    #[test]
    fn random_tokens_are_url_safe_long_enough_and_short_enough() {
        let t = random_token();
        assert_eq!(t.len(), 43);
        assert!(
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(t, random_token());
    }

    #[test]
    fn an_upload_token_round_trips_and_cannot_pass_as_a_visitor_token_or_be_altered() {
        let keys = VisitorKeys::derive(b"0123456789abcdef0123456789abcdef");
        let (w, v) = ids();
        let claims = UploadClaims {
            website_id: w,
            visitor_id: v,
            blob: "ab".repeat(32),
            file_name: "photo.png".to_owned(),
            mime_type: "image/png".to_owned(),
            size_bytes: 5,
            expires_at: Timestamp::from_millis(10_000),
        };
        let token = keys.issue_upload(&claims);
        assert_eq!(
            keys.verify_upload(&token, Timestamp::from_millis(1)),
            Ok(claims)
        );
        assert_eq!(
            keys.verify_upload(&token, Timestamp::from_millis(10_000)),
            Err(TokenError::Expired)
        );
        let as_visitor = token.replacen("u1.", "v1.", 1);
        assert_eq!(
            keys.verify(&as_visitor, Timestamp::from_millis(1)),
            Err(TokenError::Invalid)
        );
        let visitor = keys.issue(&VisitorClaims {
            website_id: w,
            visitor_id: v,
            expires_at: Timestamp::from_millis(10_000),
        });
        assert_eq!(
            keys.verify_upload(
                &visitor.replacen("v1.", "u1.", 1),
                Timestamp::from_millis(1)
            ),
            Err(TokenError::Invalid)
        );
    }
}
