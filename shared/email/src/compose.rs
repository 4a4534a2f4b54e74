//! Composing outgoing replies: RFC 5322 headers with threading ids, multipart/alternative
//! text + HTML, multipart/mixed with attachments. Every header value has CR, LF and other
//! control characters removed, so header injection is impossible.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::{Address, normalize_message_id};

/// A file to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutFile {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// An outgoing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// Our mailbox with the agent's or team's display name.
    pub from: Address,
    /// The `reply+<token>@` address.
    pub reply_to: Option<String>,
    pub to: Address,
    /// Used as is (the caller applies `reply_subject` and `subject_tag`).
    pub subject: String,
    /// Normalised ids; written with angle brackets.
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub text: String,
    /// `None`: an HTML part is generated from the text (escaped, paragraphs, links).
    pub html: Option<String>,
    pub attachments: Vec<OutFile>,
    /// `"auto-replied"` | `"auto-generated"`: adds `Auto-Submitted` and
    /// `X-Auto-Response-Suppress: All`.
    pub auto_submitted: Option<String>,
    /// The Message-ID is `<unique@message_id_domain>`.
    pub message_id_domain: String,
    /// Caller-provided unique local part (e.g. a UUID), so output is deterministic in tests.
    pub unique: String,
    pub date_millis: i64,
    pub extra_headers: Vec<(String, String)>,
}

/// The raw message (CRLF line ends) and its Message-ID without brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub raw: Vec<u8>,
    pub message_id: String,
}

/// A header value with CR/LF and other controls removed (tabs become spaces), trimmed.
fn clean(value: &str) -> String {
    value
        .chars()
        .filter_map(|c| match c {
            '\t' => Some(' '),
            '\r' | '\n' => None,
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// RFC 2047 `B` encoded words for `text`, each at most ~75 characters, joined by folding.
fn encoded_words(text: &str) -> String {
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(chunk.as_bytes())));
    }
    words.join("\r\n ")
}

/// An unstructured header value (Subject): raw when short plain ASCII, else encoded words.
fn unstructured(value: &str) -> String {
    let v = clean(value);
    let plain = v.len() <= 70 && v.bytes().all(|b| (0x20..0x7f).contains(&b)) && !v.contains("=?");
    if plain { v } else { encoded_words(&v) }
}

/// A display name: a quoted string when ASCII, encoded words otherwise.
fn display_name(name: &str) -> String {
    let n = clean(name);
    if n.bytes().all(|b| (0x20..0x7f).contains(&b)) && !n.contains("=?") {
        format!("\"{}\"", n.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        encoded_words(&n)
    }
}

/// An address spec: controls, spaces, brackets and commas removed.
fn addr_spec(address: &str) -> String {
    clean(address)
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '<' | '>' | ',' | ';' | '"' | '(' | ')'))
        .collect()
}

fn mailbox(a: &Address) -> String {
    let spec = addr_spec(&a.address);
    match a.name.as_deref().map(clean).filter(|n| !n.is_empty()) {
        Some(name) => format!("{} <{spec}>", display_name(&name)),
        None => format!("<{spec}>"),
    }
}

fn msg_id(id: &str) -> Option<String> {
    normalize_message_id(&clean(id)).map(|id| format!("<{id}>"))
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// RFC 5322 date in UTC, e.g. `Tue, 02 Apr 2024 10:00:00 +0000`.
fn rfc5322_date(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Quoted-printable (RFC 2045) of UTF-8 text with CRLF hard line breaks.
fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let normalised = text.replace("\r\n", "\n").replace('\r', "\n");
    for (i, line) in normalised.split('\n').enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let bytes = line.as_bytes();
        let mut col = 0;
        for (j, &b) in bytes.iter().enumerate() {
            let last = j + 1 == bytes.len();
            let literal =
                (b == b' ' || b == b'\t') && !last || (33..=126).contains(&b) && b != b'=';
            let piece_len = if literal { 1 } else { 3 };
            if col + piece_len > 75 {
                out.push_str("=\r\n");
                col = 0;
            }
            if literal {
                out.push(b as char);
            } else {
                out.push_str(&format!("={b:02X}"));
            }
            col += piece_len;
        }
    }
    out
}

fn base64_lines(bytes: &[u8]) -> String {
    let encoded = STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38);
    for (i, chunk) in encoded.as_bytes().chunks(76).enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
    }
    out
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a line of text and turns http(s) URLs into links.
fn linkify(line: &str) -> String {
    let mut out = String::new();
    for (i, word) in line.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let trimmed = word.trim_end_matches(['.', ',', ')', ';', ':', '!', '?']);
        if (trimmed.starts_with("https://") || trimmed.starts_with("http://")) && trimmed.len() > 8
        {
            let url = escape_html(trimmed);
            out.push_str(&format!(
                "<a href=\"{url}\">{url}</a>{}",
                escape_html(&word[trimmed.len()..])
            ));
        } else {
            out.push_str(&escape_html(word));
        }
    }
    out
}

/// The HTML alternative of a plain-text body: paragraphs at blank lines, `<br>` within.
pub fn text_to_html(text: &str) -> String {
    let normalised = text.replace("\r\n", "\n");
    let paragraphs: Vec<String> = normalised
        .split("\n\n")
        .map(|p| p.trim_matches('\n'))
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            format!(
                "<p>{}</p>",
                p.lines().map(linkify).collect::<Vec<_>>().join("<br>\r\n")
            )
        })
        .collect();
    format!(
        "<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\"></head><body>\r\n{}\r\n</body></html>",
        paragraphs.join("\r\n")
    )
}

/// RFC 2231 `filename*` plus an RFC 2047 `filename` for older readers.
fn file_name_params(name: &str) -> (String, String) {
    let n = clean(name).replace(['/', '\\'], "_");
    let n = if n.is_empty() {
        "attachment".to_owned()
    } else {
        n
    };
    let ascii = n
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        && !n.contains("=?");
    if ascii {
        return (format!("name=\"{n}\""), format!("filename=\"{n}\""));
    }
    let mut pct = String::new();
    for b in n.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            pct.push(b as char);
        } else {
            pct.push_str(&format!("%{b:02X}"));
        }
    }
    let words = encoded_words(&n).replace("\r\n ", " ");
    (
        format!("name=\"{words}\""),
        format!("filename*=utf-8''{pct}"),
    )
}

fn header_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 76
        && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

fn boundary(unique: &str, kind: &str) -> String {
    let digest = Sha256::digest(unique.as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("=_{kind}_{hex}")
}

/// Composes the draft: CRLF line ends, multipart/alternative (text + HTML), inside
/// multipart/mixed when there are attachments. Subject and names are RFC 2047 encoded;
/// CR/LF are stripped from every header value.
pub fn compose(draft: &Draft) -> Composed {
    let local: String = clean(&draft.unique)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(*c))
        .collect();
    let local = if local.is_empty() {
        "msg".to_owned()
    } else {
        local
    };
    let domain: String = addr_spec(&draft.message_id_domain).replace('@', "");
    let domain = if domain.is_empty() {
        "localhost".to_owned()
    } else {
        domain
    };
    let message_id = format!("{local}@{domain}");

    let mut h: Vec<String> = Vec::new();
    h.push(format!("Date: {}", rfc5322_date(draft.date_millis)));
    h.push(format!("From: {}", mailbox(&draft.from)));
    if let Some(reply_to) = draft
        .reply_to
        .as_deref()
        .map(addr_spec)
        .filter(|r| !r.is_empty())
    {
        h.push(format!("Reply-To: <{reply_to}>"));
    }
    h.push(format!("To: {}", mailbox(&draft.to)));
    h.push(format!("Subject: {}", unstructured(&draft.subject)));
    h.push(format!("Message-ID: <{message_id}>"));
    if let Some(id) = draft.in_reply_to.as_deref().and_then(msg_id) {
        h.push(format!("In-Reply-To: {id}"));
    }
    let refs: Vec<String> = draft.references.iter().filter_map(|r| msg_id(r)).collect();
    if !refs.is_empty() {
        h.push(format!("References: {}", refs.join("\r\n ")));
    }
    if let Some(kind) = draft
        .auto_submitted
        .as_deref()
        .map(clean)
        .filter(|k| !k.is_empty())
    {
        h.push(format!("Auto-Submitted: {kind}"));
        h.push("X-Auto-Response-Suppress: All".to_owned());
    }
    for (name, value) in &draft.extra_headers {
        let name = clean(name);
        if header_name_ok(&name) {
            h.push(format!("{name}: {}", clean(value)));
        }
    }
    h.push("MIME-Version: 1.0".to_owned());

    let html = draft
        .html
        .clone()
        .unwrap_or_else(|| text_to_html(&draft.text));
    let alt = boundary(&draft.unique, "alt");
    let alternative_body = format!(
        "--{alt}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}\r\n\
         --{alt}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}\r\n\
         --{alt}--\r\n",
        quoted_printable(&draft.text),
        quoted_printable(&html)
    );
    let alternative_type = format!("multipart/alternative; boundary=\"{alt}\"");

    let mut raw = h.join("\r\n");
    raw.push_str("\r\n");
    if draft.attachments.is_empty() {
        raw.push_str(&format!(
            "Content-Type: {alternative_type}\r\n\r\n{alternative_body}"
        ));
    } else {
        let mix = boundary(&draft.unique, "mix");
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"{mix}\"\r\n\r\n"
        ));
        raw.push_str(&format!(
            "--{mix}\r\nContent-Type: {alternative_type}\r\n\r\n{alternative_body}"
        ));
        for file in &draft.attachments {
            let ct: String = clean(&file.content_type)
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || "/.+-_".contains(*c))
                .collect();
            let ct = if ct.contains('/') {
                ct
            } else {
                "application/octet-stream".to_owned()
            };
            let (name, filename) = file_name_params(&file.file_name);
            raw.push_str(&format!(
                "--{mix}\r\nContent-Type: {ct}; {name}\r\nContent-Disposition: attachment; {filename}\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
                base64_lines(&file.bytes)
            ));
        }
        raw.push_str(&format!("--{mix}--\r\n"));
    }
    Composed {
        raw: raw.into_bytes(),
        message_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc5322_utc() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_709_251_199_000),
            "Thu, 29 Feb 2024 23:59:59 +0000"
        );
        assert_eq!(rfc5322_date(-1000), "Wed, 31 Dec 1969 23:59:59 +0000");
    }

    #[test]
    fn quoted_printable_keeps_lines_short_and_escapes() {
        let qp = quoted_printable(&format!("{} =é \nend ", "a".repeat(100)));
        assert!(qp.lines().all(|l| l.len() <= 76), "{qp}");
        assert!(qp.contains("=3D=C3=A9=20\r\nend=20"), "{qp}");
    }

    #[test]
    fn header_values_cannot_inject() {
        assert_eq!(clean("a\r\nBcc: evil@x\n"), "aBcc: evil@x");
        assert_eq!(addr_spec("a@b>\r\nBcc: c@d"), "a@bBcc:c@d");
    }

    #[test]
    fn text_becomes_escaped_html_with_links() {
        let html = text_to_html("Hi <b>\n\nSee https://example.com/x?a=1&b=2.");
        assert!(html.contains("<p>Hi &lt;b&gt;</p>"));
        assert!(html.contains("<a href=\"https://example.com/x?a=1&amp;b=2\">"));
    }

    #[test]
    fn long_subjects_are_encoded_and_folded() {
        let s = unstructured(&"é".repeat(100));
        assert!(s.lines().all(|l| l.len() < 78), "{s}");
        assert!(s.starts_with("=?UTF-8?B?"));
    }
}
