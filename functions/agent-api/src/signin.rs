//! Sign-in that resists guessing: failed sign-ins are counted per account and per client
//! address in fixed windows (a minute, an hour, a day), and an account or address over a
//! window's limit is locked until that window ends: the lock grows from a minute to an hour
//! to a day as the failures go on. A locked sign-in is answered 429 with `Retry-After`
//! before the password is even checked (so a lock cannot be guessed through), the same for
//! an account that does not exist. Passwords must be long enough and not among the most
//! common ones.
//!
//! The counts live in the store's shared counters (`AgentStore::next_counter_until`), so every
//! process and every Lambda sees the same ones; each expires with its window.

use std::net::IpAddr;

use omnidesk_core::{AgentStore, StoreResult};
use omnidesk_domain::{EmailAddress, Timestamp};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A window and how many failures it allows before the next sign-in is refused.
#[derive(Debug, Clone, Copy)]
struct Limit {
    window_secs: i64,
    failures: u64,
}

/// Per account: 5 wrong passwords a minute (the 6th attempt waits for the next minute), 20 an
/// hour, 50 a day.
const ACCOUNT: [Limit; 3] = [
    Limit {
        window_secs: 60,
        failures: 5,
    },
    Limit {
        window_secs: 3_600,
        failures: 20,
    },
    Limit {
        window_secs: 86_400,
        failures: 50,
    },
];

/// Per client address (an office shares one): 20 a minute, 100 an hour, 500 a day.
const ADDRESS: [Limit; 3] = [
    Limit {
        window_secs: 60,
        failures: 20,
    },
    Limit {
        window_secs: 3_600,
        failures: 100,
    },
    Limit {
        window_secs: 86_400,
        failures: 500,
    },
];

/// The client address of a request, as its runtime saw it (the socket's peer locally, API
/// Gateway's `sourceIp` on AWS); a request extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The viewer's address CloudFront passed on (`CloudFront-Viewer-Address: <ip>:<port>`), when
/// the request carries the deployment's origin secret in `X-Omnidesk-Origin` (compared in
/// constant time): only CloudFront knows it, so a caller reaching API Gateway directly cannot
/// pick the address it is counted under. `None` otherwise.
pub fn cloudfront_viewer(
    headers: &axum::http::HeaderMap,
    origin_secret: Option<&str>,
) -> Option<IpAddr> {
    let secret = origin_secret.filter(|s| !s.is_empty())?;
    let presented = headers.get("x-omnidesk-origin")?.as_bytes();
    if !bool::from(presented.ct_eq(secret.as_bytes())) {
        return None;
    }
    let value = headers.get("cloudfront-viewer-address")?.to_str().ok()?;
    // The port follows the last colon (IPv6 addresses are not bracketed).
    let (ip, _port) = value.trim().rsplit_once(':')?;
    ip.parse().ok()
}

/// What is counted for one sign-in: its account and, when known, its client address.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    account: String,
    address: Option<String>,
}

impl Attempt {
    pub(crate) fn new(email: &EmailAddress, address: Option<ClientAddr>) -> Self {
        // The e-mail is not stored as such: counters are not personal data.
        let digest = Sha256::digest(email.as_str().to_lowercase().as_bytes());
        let account = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            account,
            address: address.map(|ClientAddr(ip)| match ip {
                // An IPv6 client controls its /64: count the network, not each address.
                IpAddr::V6(v6) => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
                IpAddr::V4(v4) => v4.to_string(),
            }),
        }
    }

    /// Each counter of this attempt at `now`: its name, its limit and when its window ends.
    fn counters(&self, now: Timestamp) -> Vec<(String, Limit, Timestamp)> {
        let secs = now.secs();
        let scoped = [
            ("account", Some(&self.account), &ACCOUNT),
            ("address", self.address.as_ref(), &ADDRESS),
        ];
        let mut out = Vec::new();
        for (scope, key, limits) in scoped {
            let Some(key) = key else { continue };
            for limit in limits {
                let window = secs.div_euclid(limit.window_secs);
                let ends = Timestamp::from_millis((window + 1) * limit.window_secs * 1000);
                out.push((
                    format!("signin:{scope}:{key}:{}:{window}", limit.window_secs),
                    *limit,
                    ends,
                ));
            }
        }
        out
    }

    /// When the attempt may be made, if not now: the end of the longest window whose limit is
    /// used up.
    pub(crate) async fn locked_until(
        &self,
        agents: &dyn AgentStore,
        now: Timestamp,
    ) -> StoreResult<Option<Timestamp>> {
        let counters = self.counters(now);
        let counts = futures_util::future::try_join_all(
            counters.iter().map(|(name, _, _)| agents.counter(name)),
        )
        .await?;
        Ok(counters
            .iter()
            .zip(counts)
            .filter(|((_, limit, _), count)| *count >= limit.failures)
            .map(|((_, _, ends), _)| *ends)
            .max())
    }

    /// Counts a failed sign-in in every window.
    pub(crate) async fn failed(&self, agents: &dyn AgentStore, now: Timestamp) -> StoreResult<()> {
        let counters = self.counters(now);
        futures_util::future::try_join_all(
            counters
                .iter()
                .map(|(name, _, ends)| agents.next_counter_until(name, *ends)),
        )
        .await?;
        Ok(())
    }
}

/// The most common passwords (of at least 8 characters, lower case), refused for agents.
/// From Django's `common-passwords.txt.gz` (BSD-3-Clause); see `data/README.md`.
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// Whether `password` is one of the most common passwords (compared without case).
pub fn is_common_password(password: &str) -> bool {
    static SET: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| COMMON_PASSWORDS.lines().collect())
        .contains(password.trim().to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use omnidesk_core::testing::MemoryStore;

    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_millis(secs * 1000)
    }

    #[tokio::test]
    async fn the_sixth_failure_within_a_minute_locks_the_account_until_the_minute_ends() {
        let store = MemoryStore::default();
        let email = EmailAddress::parse("ann@example.com").unwrap();
        let attempt = Attempt::new(&email, None);
        // 1_800_000_000 s is a whole hour (and minute).
        let start = 1_800_000_000;
        for i in 0..5 {
            assert_eq!(
                attempt.locked_until(&store, at(start + i)).await.unwrap(),
                None
            );
            attempt.failed(&store, at(start + i)).await.unwrap();
        }
        assert_eq!(
            attempt.locked_until(&store, at(start + 10)).await.unwrap(),
            Some(at(start + 60))
        );
        // The same e-mail in another case is the same account.
        let upper = Attempt::new(&EmailAddress::parse("ANN@example.com").unwrap(), None);
        assert!(
            upper
                .locked_until(&store, at(start + 10))
                .await
                .unwrap()
                .is_some()
        );
        // The next minute it may try again, until the hour's limit.
        assert_eq!(
            attempt.locked_until(&store, at(start + 60)).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn the_lock_grows_to_the_hour_and_an_address_is_counted_across_accounts() {
        let store = MemoryStore::default();
        let hour = 1_800_000_000;
        let email = EmailAddress::parse("bob@example.com").unwrap();
        let attempt = Attempt::new(&email, None);
        // 20 failures spread over four minutes: each minute's limit holds, the hour's is used up.
        for i in 0..20 {
            attempt
                .failed(&store, at(hour + (i / 5) * 60))
                .await
                .unwrap();
        }
        assert_eq!(
            attempt.locked_until(&store, at(hour + 300)).await.unwrap(),
            Some(at(hour + 3600))
        );

        let ip = ClientAddr("203.0.113.7".parse().unwrap());
        for i in 0..20 {
            let other = EmailAddress::parse(&format!("u{i}@example.com")).unwrap();
            Attempt::new(&other, Some(ip))
                .failed(&store, at(hour))
                .await
                .unwrap();
        }
        let fresh = Attempt::new(&EmailAddress::parse("new@example.com").unwrap(), Some(ip));
        assert_eq!(
            fresh.locked_until(&store, at(hour + 1)).await.unwrap(),
            Some(at(hour + 60))
        );
        // Another address of the same account is not locked by it.
        let elsewhere = Attempt::new(
            &EmailAddress::parse("new@example.com").unwrap(),
            Some(ClientAddr("198.51.100.1".parse().unwrap())),
        );
        assert_eq!(
            elsewhere.locked_until(&store, at(hour + 1)).await.unwrap(),
            None
        );
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_network() {
        let email = EmailAddress::parse("a@example.com").unwrap();
        let a = Attempt::new(&email, Some(ClientAddr("2001:db8:1:2::1".parse().unwrap())));
        let b = Attempt::new(
            &email,
            Some(ClientAddr("2001:db8:1:2:ffff::9".parse().unwrap())),
        );
        assert_eq!(a.address, b.address);
        assert_eq!(a.address.as_deref(), Some("2001:db8:1:2::/64"));
    }

    #[test]
    fn the_cloudfront_viewer_address_counts_only_with_the_origin_secret() {
        use axum::http::{HeaderMap, HeaderValue};
        let mut h = HeaderMap::new();
        h.insert(
            "cloudfront-viewer-address",
            HeaderValue::from_static("2406:2d40:728d:fa10::c4a:42838"),
        );
        assert_eq!(
            cloudfront_viewer(&h, Some("s3cret")),
            None,
            "no secret sent"
        );
        h.insert("x-omnidesk-origin", HeaderValue::from_static("guess"));
        assert_eq!(cloudfront_viewer(&h, Some("s3cret")), None, "a wrong one");
        h.insert("x-omnidesk-origin", HeaderValue::from_static("s3cret"));
        assert_eq!(cloudfront_viewer(&h, None), None, "no secret configured");
        assert_eq!(
            cloudfront_viewer(&h, Some("s3cret")),
            Some("2406:2d40:728d:fa10::c4a".parse().unwrap())
        );
        h.insert(
            "cloudfront-viewer-address",
            HeaderValue::from_static("203.0.113.9:51234"),
        );
        assert_eq!(
            cloudfront_viewer(&h, Some("s3cret")),
            Some("203.0.113.9".parse().unwrap())
        );
        h.insert(
            "cloudfront-viewer-address",
            HeaderValue::from_static("junk"),
        );
        assert_eq!(cloudfront_viewer(&h, Some("s3cret")), None);
    }

    #[test]
    fn common_passwords_are_recognised_whatever_their_case() {
        assert!(is_common_password("password1"));
        assert!(is_common_password("Password1"));
        assert!(is_common_password("12345678"));
        assert!(is_common_password("iloveyou"));
        assert!(!is_common_password("correct-horse-battery"));
        assert!(COMMON_PASSWORDS.lines().count() > 8000);
    }
}
