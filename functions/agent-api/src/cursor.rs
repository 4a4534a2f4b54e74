//! Page cursors as clients see them: the store's own cursor (hex) and a seal, an HMAC under the
//! token key of that cursor and of the list it pages (`<hex>.<seal>`).
//!
//! A store reads only cursors it wrote; fed anything else it fails as if a record were corrupt
//! (a 500), or with DynamoDB an invalid start key. So a cursor is checked here, before any store
//! sees it: one that is not a cursor at all is a 400 `invalid_cursor`; one of the right shape
//! that this API did not give out for this list (forged, from another list, or from before the
//! token key changed) is a 404 `unknown_cursor`: no such page. The shape is the `cursor`
//! parameter's pattern in `openapi.json` ([`PATTERN`]).

use axum::http::StatusCode;

use crate::auth::Auth;
use crate::error::ApiError;

/// Longest store cursor carried, in bytes (DynamoDB start keys stay far below it).
pub(crate) const MAX_STORE_CURSOR_BYTES: usize = 1024;
/// Length of a seal: an HMAC-SHA256 in unpadded base64url.
const SEAL_CHARS: usize = 43;
/// The shape of a cursor, as the document states it (empty = the first page).
#[cfg(test)]
pub(crate) const PATTERN: &str = "^((?:[0-9a-f]{2}){1,1024}\\.[A-Za-z0-9_-]{43})?$";

/// Keeps cursor seals apart from JWT signing input (which has no NUL byte).
const DOMAIN: &[u8] = b"omnidesk-page-cursor-v1\0";

fn message(list: &str, store_cursor: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + list.len() + 1 + store_cursor.len());
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(list.as_bytes());
    m.push(0);
    m.extend_from_slice(store_cursor);
    m
}

/// The cursor a client gets for the store's `store_cursor` of `list` (a name of the list and
/// its filter, e.g. `messages:cv_…`).
pub(crate) fn seal(auth: &Auth, list: &str, store_cursor: &str) -> Result<String, ApiError> {
    let seal = auth.seal(&message(list, store_cursor.as_bytes()))?;
    let mut out = String::with_capacity(store_cursor.len() * 2 + 1 + seal.len());
    for b in store_cursor.bytes() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out.push('.');
    out.push_str(&seal);
    Ok(out)
}

/// The store cursor of a client's `cursor` for `list`; `None` (first page) when absent or empty.
pub(crate) fn open(
    auth: &Auth,
    list: &str,
    cursor: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let cursor = match cursor {
        None | Some("") => return Ok(None),
        Some(c) => c,
    };
    let (hex, seal) = cursor.split_once('.').ok_or_else(invalid)?;
    let store_cursor = decode_hex(hex).ok_or_else(invalid)?;
    let seal_ok = seal.len() == SEAL_CHARS
        && seal
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !seal_ok {
        return Err(invalid());
    }
    if !auth.is_sealed(&message(list, &store_cursor), seal) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_cursor",
            "cursor: not a cursor of this list (another list's, or from before a key change); \
             start again from the first page",
        ));
    }
    // Sealed by us, so it is the text we sealed.
    String::from_utf8(store_cursor)
        .map(Some)
        .map_err(|_| invalid())
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex of 1 to [`MAX_STORE_CURSOR_BYTES`] bytes.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) || hex.len() > 2 * MAX_STORE_CURSOR_BYTES {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    hex.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

fn invalid() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_cursor",
        "cursor: not a page cursor; pass the `next_cursor` of the previous page, or none for \
         the first page",
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn auth(secret: &[u8]) -> Auth {
        Auth::new(secret, Duration::from_secs(60))
    }

    #[test]
    fn a_sealed_cursor_opens_to_the_store_cursor_of_its_list_only() {
        let a = auth(b"key one");
        let sealed = seal(&a, "messages:cv_1", "1704067200000.cv_01 +/=").unwrap();
        assert_eq!(
            open(&a, "messages:cv_1", Some(&sealed)).unwrap().as_deref(),
            Some("1704067200000.cv_01 +/=")
        );
        let foreign = open(&a, "messages:cv_2", Some(&sealed)).unwrap_err();
        assert_eq!(
            (foreign.status, foreign.code),
            (StatusCode::NOT_FOUND, "unknown_cursor")
        );
        let rotated = open(&auth(b"key two"), "messages:cv_1", Some(&sealed)).unwrap_err();
        assert_eq!(rotated.code, "unknown_cursor");
        assert_eq!(open(&a, "messages:cv_1", Some("")).unwrap(), None);
        assert_eq!(open(&a, "messages:cv_1", None).unwrap(), None);
    }

    #[test]
    fn what_is_not_shaped_like_a_cursor_is_invalid() {
        let a = auth(b"key one");
        let sealed = seal(&a, "l", "z").unwrap();
        let (hex, seal) = sealed.split_once('.').unwrap();
        for garbage in [
            "__main__".to_owned(),
            "not.a-cursor".to_owned(),
            hex.to_owned(),
            format!("{hex}0.{seal}"),
            format!("{}.{seal}", hex.to_uppercase()),
            format!(".{seal}"),
            format!("{hex}.{seal}="),
            format!("{hex}.{}", &seal[1..]),
            format!("{}.{seal}", "00".repeat(MAX_STORE_CURSOR_BYTES + 1)),
        ] {
            let e = open(&a, "l", Some(&garbage)).unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (StatusCode::BAD_REQUEST, "invalid_cursor"),
                "{garbage}"
            );
        }
    }
}
