//! E-mail as the rest of omnidesk needs it: parse inbound raw MIME ([`parse`]) into addresses,
//! threading ids, the new text of a reply (quoted history and signature split off), sanitised
//! HTML and attachments (winmail.dat unpacked); classify automatic mail and bounces; and
//! compose outgoing replies with threading headers ([`compose`]).
//!
//! A pure library: no I/O, no async, no AWS, no other omnidesk crate. Everything is a function
//! of its input, so it is tested on real messages as fixtures.

mod auto;
mod compose;
mod html;
mod quote;
mod threading;
mod tnef;
mod words;

use std::fmt;

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

pub use compose::{Composed, Draft, OutFile, compose};
pub use threading::{
    find_subject_tag, message_id_ref, new_thread_token, normalize_message_id, reply_address,
    reply_subject, reply_token, strip_subject_tag, subject_tag, subject_tag_ref,
};

/// Sanitised HTML larger than this is dropped (with a warning); its text is still used.
pub const MAX_HTML_BYTES: usize = 512 * 1024;

/// A mailbox: the address trimmed and lowercased, and the display name if there was one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub address: String,
    pub name: Option<String>,
}

/// A file that came with the message (attachments, inline images, winmail.dat contents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAttachment {
    pub file_name: Option<String>,
    /// `type/subtype`, lowercased.
    pub content_type: String,
    /// Decoded bytes (text attachments are charset-decoded to UTF-8).
    pub bytes: Vec<u8>,
    /// `Content-Disposition: inline`, or referenced from the HTML by `cid:`.
    pub inline: bool,
    /// Without angle brackets.
    pub content_id: Option<String>,
}

/// Why a message was sent by a machine rather than a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Automatic {
    /// `Auto-Submitted` with a value other than `no` (lowercased).
    AutoSubmitted(String),
    /// `Precedence: bulk | list | junk`.
    Precedence(String),
    /// `X-Auto-Response-Suppress` present.
    AutoResponseSuppress,
    /// `List-Id` or `List-Unsubscribe` present.
    MailingList,
    /// `multipart/report`.
    DeliveryReport,
    /// From a daemon address (mailer-daemon, postmaster, no-reply …): the address.
    DaemonSender(String),
}

impl Automatic {
    /// One line for an agent, e.g. `"Auto-Submitted: auto-replied"`.
    pub fn reason(&self) -> String {
        match self {
            Automatic::AutoSubmitted(v) => format!("Auto-Submitted: {v}"),
            Automatic::Precedence(v) => format!("Precedence: {v}"),
            Automatic::AutoResponseSuppress => {
                "X-Auto-Response-Suppress is set (an automatic message)".to_owned()
            }
            Automatic::MailingList => {
                "Mailing-list message (List-Id / List-Unsubscribe)".to_owned()
            }
            Automatic::DeliveryReport => "Delivery report (multipart/report)".to_owned(),
            Automatic::DaemonSender(a) => format!("Sent by an automatic address: {a}"),
        }
    }
}

/// A delivery failure report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// Final-Recipient / Original-Recipient addresses, lowercased.
    pub recipients: Vec<String>,
    /// e.g. `"5.1.1"`.
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    /// Status 5.x.x or `Action: failed`.
    pub permanent: bool,
    /// From the returned message/rfc822 or text/rfc822-headers part.
    pub original_message_id: Option<String>,
}

/// What the rest of the system needs from an inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEmail {
    /// Normalised: no angle brackets, trimmed.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    /// Oldest first.
    pub references: Vec<String>,
    /// Decoded; `""` when none.
    pub subject: String,
    pub from: Option<Address>,
    pub reply_to: Option<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub date_millis: Option<i64>,
    pub content_language: Option<String>,
    /// The new part (quoted history and signature removed), trimmed, `\n` line ends; from
    /// text/plain, else from the HTML converted to text.
    pub text: String,
    /// What was removed from `text`; `None` when nothing was.
    pub quoted: Option<String>,
    /// Sanitised HTML body when the mail had one and it is at most [`MAX_HTML_BYTES`].
    pub html: Option<String>,
    pub attachments: Vec<ParsedAttachment>,
    pub automatic: Option<Automatic>,
    pub bounce: Option<Bounce>,
    /// Things an operator may want to know (undecodable charset, unreadable TNEF …).
    pub warnings: Vec<String>,
}

/// A message that could not be parsed at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFailure {
    pub reason: String,
}

impl fmt::Display for ParseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unparseable e-mail: {}", self.reason)
    }
}

impl std::error::Error for ParseFailure {}

fn failure(reason: impl Into<String>) -> ParseFailure {
    ParseFailure {
        reason: reason.into(),
    }
}

/// Parses raw MIME. Never panics (the parser runs under `catch_unwind`); garbage that still has
/// a body parses best effort. Fails only when there is nothing usable (empty input, no headers
/// and no body).
pub fn parse(raw: &[u8]) -> Result<ParsedEmail, ParseFailure> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(failure("empty input"));
    }
    match std::panic::catch_unwind(|| parse_inner(raw)) {
        Ok(result) => result,
        Err(_) => Err(failure("the MIME parser panicked on this input")),
    }
}

fn address_of(a: &mail_parser::Addr<'_>) -> Option<Address> {
    let address = a
        .address()?
        .trim()
        .trim_matches(['<', '>'])
        .trim()
        .to_lowercase();
    if address.is_empty() {
        return None;
    }
    let name = a
        .name()
        .map(|n| n.split_whitespace().collect::<Vec<_>>().join(" "))
        .map(|n| n.trim_matches(['"', '\'']).trim().to_owned())
        .filter(|n| !n.is_empty() && n.to_lowercase() != address);
    Some(Address { address, name })
}

fn addresses(a: Option<&mail_parser::Address<'_>>) -> Vec<Address> {
    a.map(|a| a.iter().filter_map(address_of).collect())
        .unwrap_or_default()
}

fn ids(v: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    let raw: Vec<&str> = match v {
        mail_parser::HeaderValue::Text(t) => vec![t.as_ref()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for id in raw.into_iter().filter_map(normalize_message_id) {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

fn content_type_of(part: &mail_parser::MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None => match part.body {
            PartType::Message(_) => "message/rfc822".to_owned(),
            PartType::Text(_) => "text/plain".to_owned(),
            PartType::Html(_) => "text/html".to_owned(),
            _ => "application/octet-stream".to_owned(),
        },
    }
}

fn is_tnef(content_type: &str, name: Option<&str>) -> bool {
    content_type == "application/ms-tnef"
        || content_type == "application/vnd.ms-tnef"
        || name.is_some_and(|n| n.eq_ignore_ascii_case("winmail.dat"))
}

fn guess_type(name: Option<&str>) -> String {
    let ext = name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("txt") => "text/plain",
        Some("htm" | "html") => "text/html",
        Some("csv") => "text/csv",
        Some("doc") => "application/msword",
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Some("xls") => "application/vnd.ms-excel",
        Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    }
    .to_owned()
}

fn charset_warning(part: &mail_parser::MessagePart<'_>, warnings: &mut Vec<String>) {
    let Some(charset) = part.content_type().and_then(|ct| ct.attribute("charset")) else {
        return;
    };
    let c = charset.trim().to_ascii_lowercase();
    let known = matches!(c.as_str(), "us-ascii" | "utf-8" | "utf8" | "ascii" | "")
        || mail_parser::decoders::charsets::map::charset_decoder(c.as_bytes()).is_some();
    if !known {
        warnings.push(format!(
            "unknown charset {charset:?}: text decoded as UTF-8 with replacements"
        ));
    }
}

fn parse_inner(raw: &[u8]) -> Result<ParsedEmail, ParseFailure> {
    let msg: Message<'_> = MessageParser::default()
        .parse(raw)
        .ok_or_else(|| failure("no headers and no body"))?;
    let mut warnings = Vec::new();

    let from = msg.from().and_then(|a| a.iter().find_map(address_of));
    // Encoded words are re-decoded from the raw header so that a multibyte character split
    // across two words (which mail-parser decodes word by word) comes out whole.
    let subject = match msg.header_raw("Subject") {
        Some(raw) if raw.contains("=?") => words::decode_unstructured(raw),
        _ => msg.subject().unwrap_or_default().to_owned(),
    };
    let subject = subject
        .split(['\r', '\n'])
        .collect::<String>()
        .trim()
        .to_owned();

    // Bodies: text/plain parts of the text body, the first HTML part of the HTML body.
    let mut body_parts: Vec<usize> = Vec::new();
    let mut plain = String::new();
    for &id in &msg.text_body {
        let id = id as usize;
        if let Some(part) = msg.parts.get(id)
            && let PartType::Text(t) = &part.body
        {
            body_parts.push(id);
            charset_warning(part, &mut warnings);
            if part.is_encoding_problem {
                warnings.push("a text part could not be decoded cleanly".to_owned());
            }
            if !plain.is_empty() {
                plain.push('\n');
            }
            plain.push_str(t);
        }
    }
    let mut html_raw: Option<&str> = None;
    for &id in &msg.html_body {
        let id = id as usize;
        if let Some(part) = msg.parts.get(id)
            && let PartType::Html(h) = &part.body
        {
            body_parts.push(id);
            if html_raw.is_none() {
                charset_warning(part, &mut warnings);
                html_raw = Some(h.as_ref());
            }
        }
    }
    let plain = plain.replace("\r\n", "\n").replace('\r', "\n");

    let (text, quoted) = if !plain.trim().is_empty() {
        quote::split_reply(&plain)
    } else if let Some(h) = html_raw {
        let converted = html::to_text(h);
        let (new, more_quoted) = quote::split_reply(&converted.new);
        let mut removed: Vec<String> = Vec::new();
        removed.extend(more_quoted);
        if !converted.quoted.is_empty() {
            removed.push(converted.quoted);
        }
        if new.is_empty() && !removed.is_empty() {
            // Conservative: never lose the only text there is.
            (removed.join("\n\n"), None)
        } else {
            (new, (!removed.is_empty()).then(|| removed.join("\n\n")))
        }
    } else {
        (String::new(), None)
    };

    let html = html_raw.and_then(|h| {
        let clean = html::sanitize(h);
        if clean.len() > MAX_HTML_BYTES {
            warnings.push(format!(
                "HTML body dropped: {} KB after sanitising, over the {} KB limit",
                clean.len() / 1024,
                MAX_HTML_BYTES / 1024
            ));
            None
        } else {
            Some(clean)
        }
    });
    let html_lower = html_raw.map(str::to_ascii_lowercase).unwrap_or_default();

    // Attachments: every leaf part that is not a body part and not a report's status part.
    let mut attachments = Vec::new();
    for (index, part) in msg.parts.iter().enumerate() {
        if index == 0 && !matches!(part.body, PartType::Binary(_) | PartType::InlineBinary(_)) {
            continue;
        }
        if body_parts.contains(&index) || matches!(part.body, PartType::Multipart(_)) {
            continue;
        }
        let content_type = content_type_of(part);
        if matches!(
            content_type.as_str(),
            "message/delivery-status" | "message/global-delivery-status" | "text/rfc822-headers"
        ) {
            continue;
        }
        let file_name = part
            .attachment_name()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
        let content_id = part.content_id().and_then(normalize_message_id);
        let referenced = content_id
            .as_ref()
            .is_some_and(|cid| html_lower.contains(&format!("cid:{}", cid.to_ascii_lowercase())));
        let inline = referenced || part.content_disposition().is_some_and(|d| d.is_inline());
        let bytes = part.contents();
        if bytes.is_empty() && file_name.is_none() {
            continue;
        }
        if is_tnef(&content_type, file_name.as_deref()) {
            match tnef::read(bytes) {
                Ok(t) if !t.files.is_empty() => {
                    if t.bad_checksums > 0 {
                        warnings.push(format!(
                            "winmail.dat: {} attribute checksum(s) did not match",
                            t.bad_checksums
                        ));
                    }
                    for f in t.files {
                        let content_type = f
                            .content_type
                            .unwrap_or_else(|| guess_type(f.file_name.as_deref()));
                        attachments.push(ParsedAttachment {
                            file_name: f.file_name,
                            content_type,
                            bytes: f.bytes,
                            inline: false,
                            content_id: None,
                        });
                    }
                    continue;
                }
                Ok(_) => warnings.push(
                    "winmail.dat holds no files (rich-text body only); kept as is".to_owned(),
                ),
                Err(e) => warnings.push(format!("winmail.dat unreadable ({e}); kept as is")),
            }
        }
        attachments.push(ParsedAttachment {
            file_name,
            content_type,
            bytes: bytes.to_vec(),
            inline,
            content_id,
        });
    }

    let date_millis = msg
        .date()
        .filter(|d| d.is_valid())
        .and_then(|d| d.to_timestamp().checked_mul(1000));
    let content_language = match msg.root_part().content_language() {
        mail_parser::HeaderValue::Text(t) => Some(t.trim().to_owned()),
        mail_parser::HeaderValue::TextList(l) => l.first().map(|t| t.trim().to_owned()),
        _ => None,
    }
    .filter(|l| !l.is_empty());

    let from_address = from.as_ref().map(|a| a.address.as_str());
    let automatic = auto::classify(&msg, from_address);
    let bounce = auto::bounce(&msg, from_address, &subject);

    let has_headers = !msg.root_part().headers.is_empty();
    if !has_headers && text.is_empty() && html.is_none() && attachments.is_empty() {
        return Err(failure("no headers and no body"));
    }

    Ok(ParsedEmail {
        message_id: msg.message_id().and_then(normalize_message_id),
        in_reply_to: ids(msg.in_reply_to()),
        references: ids(msg.references()),
        subject,
        reply_to: msg.reply_to().and_then(|a| a.iter().find_map(address_of)),
        to: addresses(msg.to()),
        cc: addresses(msg.cc()),
        from,
        date_millis,
        content_language,
        text,
        quoted,
        html,
        attachments,
        automatic,
        bounce,
        warnings,
    })
}
