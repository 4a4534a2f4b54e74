//! Rollout buckets: each contact has a fixed bucket 0..=99, so a rule at 10% reaches the same
//! contacts on every message, in every process and after every deploy, and raising it to 20%
//! only adds contacts. The bucket is the same for every rule: the first 10% of one rollout are
//! the first 10% of any other.

use omnidesk_domain::ContactId;

/// The contact's bucket, 0..=99.
///
/// FNV-1a 64 of the id's canonical text (`ct_<32 hex digits>`, as it is stored and shown), then
/// MurmurHash3's 64-bit finaliser to spread the bits, then the high 32 bits scaled to 0..100.
/// None of this depends on the platform, the process or the Rust version (std's
/// `DefaultHasher` may change between releases and must not be used here).
pub fn bucket(contact: ContactId) -> u8 {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut fnv = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    // The bytes of `contact.to_string()`, without formatting it.
    ContactId::PREFIX.bytes().for_each(&mut fnv);
    fnv(b'_');
    for b in contact.as_uuid().as_bytes() {
        fnv(HEX[usize::from(b >> 4)]);
        fnv(HEX[usize::from(b & 0xf)]);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    // (high 32 bits × 100) / 2³² is below 100.
    u8::try_from(((h >> 32) * 100) >> 32).unwrap_or(99)
}

/// A feature's rollout percentage from the variable `name` (`10`, `10%`; 0-100), or an error
/// that names the variable.
pub fn parse_percent(name: &str, value: &str) -> Result<u8, String> {
    value
        .trim()
        .trim_end_matches('%')
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|p| *p <= 100)
        .ok_or_else(|| format!("{name}: expected a percentage 0-100, got {value:?}"))
}

/// Whether the contact is in a rollout of `percent` (0 = nobody, 100 or more = everybody).
pub fn in_rollout(contact: ContactId, percent: u8) -> bool {
    bucket(contact) < percent
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn percentages_are_read_with_or_without_the_sign_and_refused_past_100() {
        assert_eq!(parse_percent("X", "10"), Ok(10));
        assert_eq!(parse_percent("X", " 25% "), Ok(25));
        assert_eq!(parse_percent("X", "0"), Ok(0));
        assert_eq!(parse_percent("X", "100"), Ok(100));
        for bad in ["101", "-1", "ten", "", "12.5"] {
            let e = parse_percent("OMNIDESK_X_ROLLOUT", bad).unwrap_err();
            assert!(
                e.starts_with("OMNIDESK_X_ROLLOUT: expected a percentage"),
                "{e}"
            );
        }
    }

    fn contact(n: u128) -> ContactId {
        ContactId::from_uuid(Uuid::from_u128(
            n.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835),
        ))
    }

    #[test]
    fn a_fixed_contact_has_a_fixed_bucket() {
        let id = ContactId::parse("ct_0190f5a3b2c47d8e9f00112233445566").unwrap();
        assert_eq!(bucket(id), BUCKET_OF_FIXED_ID);
        assert_eq!(bucket(contact(1)), BUCKET_OF_CONTACT_1);
    }

    const BUCKET_OF_FIXED_ID: u8 = 52;
    const BUCKET_OF_CONTACT_1: u8 = 22;

    #[test]
    fn the_bucket_hashes_the_id_as_it_is_written() {
        let id = contact(7);
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in id.to_string().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^= h >> 33;
        assert_eq!(u64::from(bucket(id)), ((h >> 32) * 100) >> 32);
    }

    #[test]
    fn about_ten_percent_of_contacts_are_in_a_ten_percent_rollout() {
        let deterministic: Vec<ContactId> = (0..10_000).map(contact).collect();
        let random: Vec<ContactId> = (0..10_000)
            .map(|_| ContactId::from_uuid(Uuid::now_v7()))
            .collect();
        for ids in [deterministic, random] {
            let in10 = ids.iter().filter(|c| in_rollout(**c, 10)).count();
            assert!((850..=1150).contains(&in10), "{in10} of 10000 at 10%");
            for c in &ids {
                if in_rollout(*c, 10) {
                    assert!(in_rollout(*c, 20));
                }
                assert!(!in_rollout(*c, 0));
                assert!(in_rollout(*c, 100));
                assert!(bucket(*c) < 100);
            }
        }
    }

    #[test]
    fn buckets_are_spread_evenly() {
        let mut counts = [0u32; 100];
        for n in 0..100_000 {
            counts[usize::from(bucket(contact(n)))] += 1;
        }
        for (b, count) in counts.iter().enumerate() {
            assert!((850..=1150).contains(count), "bucket {b}: {count}");
        }
    }
}
