//! Message-ID normalisation, thread tokens, subject tags and reply+token addresses.

use sha2::{Digest, Sha256};

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const TOKEN_LEN: usize = 26;
const TAG_LEN: usize = 8;

/// `"<a@b>"` -> `"a@b"`. `None` for an empty or garbage id (whitespace, control characters,
/// angle brackets inside, longer than 998 bytes).
pub fn normalize_message_id(s: &str) -> Option<String> {
    let s = s.trim();
    let inner = match (s.find('<'), s.rfind('>')) {
        (Some(open), Some(close)) if open < close => &s[open + 1..close],
        _ => s.trim_start_matches('<').trim_end_matches('>'),
    };
    let inner = inner.trim();
    let garbage = inner.is_empty()
        || inner.len() > 998
        || inner
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == ',');
    (!garbage).then(|| inner.to_owned())
}

/// `"mid:"` + the first 40 hex digits of the SHA-256 of the normalised id: a bounded store key.
/// An id that does not normalise is hashed as given (trimmed).
pub fn message_id_ref(id: &str) -> String {
    let normalised = normalize_message_id(id).unwrap_or_else(|| id.trim().to_owned());
    let digest = Sha256::digest(normalised.as_bytes());
    let mut out = String::with_capacity(44);
    out.push_str("mid:");
    for byte in &digest[..20] {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// 26 characters of lowercase RFC 4648 base32 (no padding) from 16 random bytes.
pub fn new_thread_token(random: [u8; 16]) -> String {
    let value = u128::from_be_bytes(random);
    // 26 * 5 = 130 bits: the last character carries the low 3 bits followed by two zero bits.
    (0..TOKEN_LEN)
        .map(|i| {
            // The 128 bits followed by two zero bits, read 5 at a time from the top.
            let shift = 123 - 5 * i as i32;
            let index = if shift >= 0 {
                (value >> shift) & 0x1f
            } else {
                (value << -shift) & 0x1f
            };
            BASE32[index as usize] as char
        })
        .collect()
}

/// `"[#"` + the first 8 characters of the token uppercased + `"]"`.
pub fn subject_tag(thread_token: &str) -> String {
    let head: String = thread_token.chars().take(TAG_LEN).collect();
    format!("[#{}]", head.to_uppercase())
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphabetic() || ('2'..='7').contains(&c)
}

/// The 8 tag characters, lowercased, from a `"[#XXXXXXXX]"` anywhere in the subject.
pub fn find_subject_tag(subject: &str) -> Option<String> {
    tag_spans(subject)
        .next()
        .map(|(start, _)| subject[start + 2..start + 2 + TAG_LEN].to_ascii_lowercase())
}

/// Byte spans of every `[#XXXXXXXX]` in `subject`.
fn tag_spans(subject: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    subject.match_indices("[#").filter_map(move |(start, _)| {
        let rest = subject.get(start + 2..)?;
        let tag = rest.get(..TAG_LEN)?;
        (tag.chars().all(is_token_char) && rest[TAG_LEN..].starts_with(']'))
            .then_some((start, start + 2 + TAG_LEN + 1))
    })
}

/// The subject without any `[#XXXXXXXX]` tag, whitespace collapsed where a tag was.
pub fn strip_subject_tag(subject: &str) -> String {
    let mut out = String::with_capacity(subject.len());
    let mut last = 0;
    for (start, end) in tag_spans(subject) {
        out.push_str(&subject[last..start]);
        last = end;
    }
    out.push_str(&subject[last..]);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `"tag:"` + the lowercased tag.
pub fn subject_tag_ref(tag: &str) -> String {
    format!("tag:{}", tag.trim().to_lowercase())
}

/// `"reply+<token>@<domain of mailbox>"`.
pub fn reply_address(mailbox: &str, thread_token: &str) -> String {
    let mailbox = mailbox.trim().trim_start_matches('<').trim_end_matches('>');
    let domain = mailbox.rsplit_once('@').map_or(mailbox, |(_, d)| d);
    format!(
        "reply+{}@{}",
        thread_token.to_lowercase(),
        domain.to_lowercase()
    )
}

/// The token from `"reply+<token>@domain"` (case-insensitive; token `[a-z2-7]{26}`), else `None`.
pub fn reply_token(address: &str) -> Option<String> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, domain) = address.rsplit_once('@')?;
    if domain.is_empty() {
        return None;
    }
    let local = local.to_ascii_lowercase();
    let token = local.strip_prefix("reply+")?;
    (token.len() == TOKEN_LEN
        && token
            .chars()
            .all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c)))
    .then(|| token.to_owned())
}

const REPLY_PREFIXES: &[&str] = &[
    "re", "aw", "sv", "vs", "antw", "antwort", "odp", "ynt", "res", "rif", "r", "答复", "回复",
    "回覆",
];

/// Strips one reply prefix (`Re:`, `RE[2]:`, `Aw:`, `答复：` …) from the start, if there is one.
fn strip_reply_prefix(s: &str) -> Option<&str> {
    let colon = s.find([':', '：'])?;
    let head = s[..colon].trim();
    let head_lower = head.to_lowercase();
    // "Re[2]" / "Re(2)" counters
    let base = head_lower
        .split(['[', '('])
        .next()
        .unwrap_or_default()
        .trim();
    let counter_ok = head_lower.len() == base.len()
        || head_lower[base.len()..]
            .trim_matches(|c| matches!(c, '[' | ']' | '(' | ')'))
            .chars()
            .all(|c| c.is_ascii_digit());
    if REPLY_PREFIXES.contains(&base) && counter_ok {
        let sep_len = s[colon..].chars().next().map_or(1, char::len_utf8);
        Some(&s[colon + sep_len..])
    } else {
        None
    }
}

/// `"Re: <subject>"` without stacking reply prefixes; `"Re: (no subject)"` when empty.
/// CR and LF are removed. A leading `[#TAG]` is not stripped (see [`strip_subject_tag`]).
pub fn reply_subject(subject: &str) -> String {
    let cleaned: String = subject
        .chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .collect();
    let mut rest = cleaned.trim();
    while let Some(stripped) = strip_reply_prefix(rest) {
        rest = stripped.trim_start();
    }
    let rest = rest.trim();
    if rest.is_empty() {
        "Re: (no subject)".to_owned()
    } else {
        format!("Re: {rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_lose_brackets_and_garbage_is_refused() {
        assert_eq!(normalize_message_id(" <a@b> ").as_deref(), Some("a@b"));
        assert_eq!(normalize_message_id("a@b").as_deref(), Some("a@b"));
        assert_eq!(normalize_message_id("  ").as_deref(), None);
        assert_eq!(normalize_message_id("<>").as_deref(), None);
        assert_eq!(normalize_message_id("two words").as_deref(), None);
    }

    #[test]
    fn message_id_refs_are_bounded_and_bracket_blind() {
        let r = message_id_ref("<abc@example.com>");
        assert_eq!(r, message_id_ref("abc@example.com"));
        assert_eq!(r.len(), 44);
        assert!(r.starts_with("mid:"));
        assert_eq!(message_id_ref(&"x".repeat(5000)).len(), 44);
    }

    #[test]
    fn thread_tokens_are_26_base32_chars() {
        assert_eq!(new_thread_token([0; 16]), "a".repeat(26));
        let t = new_thread_token([0xff; 16]);
        assert_eq!(t.len(), 26);
        assert_eq!(&t[..25], "7".repeat(25));
        assert_eq!(&t[25..], "4"); // 3 one-bits then two padding zero bits = 0b11100
        // RFC 4648 test vector "foobar" padded to 16 bytes starts like "MZXW6YTBOI".
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(b"foobar");
        assert!(new_thread_token(bytes).starts_with("mzxw6ytboi"));
    }

    #[test]
    fn subject_tags_round_trip() {
        let token = new_thread_token([7; 16]);
        let tag = subject_tag(&token);
        assert_eq!(tag.len(), 11);
        let subject = format!("Re: Your order {tag} again");
        assert_eq!(find_subject_tag(&subject).as_deref(), Some(&token[..8]));
        assert_eq!(strip_subject_tag(&subject), "Re: Your order again");
        assert_eq!(find_subject_tag("[#1234] short"), None);
        assert_eq!(find_subject_tag("[#ABCDEFGH"), None);
        assert_eq!(
            find_subject_tag("x [#abcdefgh] y").as_deref(),
            Some("abcdefgh")
        );
        assert_eq!(subject_tag_ref("ABCDEFGH"), "tag:abcdefgh");
    }

    #[test]
    fn reply_addresses_carry_the_token() {
        let token = new_thread_token([42; 16]);
        let address = reply_address("Support@Example.com", &token);
        assert_eq!(address, format!("reply+{token}@example.com"));
        assert_eq!(
            reply_token(&address.to_uppercase()).as_deref(),
            Some(token.as_str())
        );
        assert_eq!(
            reply_token(&format!("<{address}>")).as_deref(),
            Some(token.as_str())
        );
        assert_eq!(reply_token("reply+short@example.com"), None);
        assert_eq!(reply_token("support@example.com"), None);
        assert_eq!(reply_token(&format!("reply+{token}")), None);
        assert_eq!(
            reply_token(&format!("reply+{}1@example.com", &token[..25])),
            None
        );
    }

    #[test]
    fn reply_subjects_do_not_stack() {
        assert_eq!(reply_subject("Hello"), "Re: Hello");
        assert_eq!(reply_subject("Re: Hello"), "Re: Hello");
        assert_eq!(reply_subject("RE: re: Aw: Sv: Hello"), "Re: Hello");
        assert_eq!(reply_subject("Re[2]: Hello"), "Re: Hello");
        assert_eq!(reply_subject("答复: 你好"), "Re: 你好");
        assert_eq!(reply_subject("回复：你好"), "Re: 你好");
        assert_eq!(reply_subject(""), "Re: (no subject)");
        assert_eq!(reply_subject(" Re: "), "Re: (no subject)");
        assert_eq!(reply_subject("Hi\r\nBcc: x@y"), "Re: HiBcc: x@y");
        assert_eq!(reply_subject("Fwd: Hello"), "Re: Fwd: Hello");
        assert_eq!(reply_subject("Meeting: Monday"), "Re: Meeting: Monday");
    }
}
