//! RFC 2047 encoded words, decoded so that adjacent words in one charset are joined before
//! charset decoding: a multibyte character split across two encoded words survives.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

struct Word<'a> {
    charset: &'a str,
    bytes: Vec<u8>,
}

/// Parses `=?charset?B|Q?text?=` at the start of `s`; returns the word and its length.
fn encoded_word(s: &str) -> Option<(Word<'_>, usize)> {
    let rest = s.strip_prefix("=?")?;
    let (charset, rest) = rest.split_once('?')?;
    let (encoding, rest) = rest.split_once('?')?;
    let end = rest.find("?=")?;
    let text = &rest[..end];
    if charset.is_empty() || text.contains(char::is_whitespace) {
        return None;
    }
    let len = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    let charset = charset.split('*').next().unwrap_or(charset); // RFC 2231 language suffix
    let bytes = match encoding {
        "B" | "b" => {
            let cleaned: String = text.chars().filter(|c| *c != '=').collect();
            STANDARD_NO_PAD.decode(cleaned.as_bytes()).ok()?
        }
        "Q" | "q" => q_decode(text),
        _ => return None,
    };
    Some((Word { charset, bytes }, len))
}

fn q_decode(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'='),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn decode_charset(charset: &str, bytes: &[u8]) -> String {
    let c = charset.to_ascii_lowercase();
    if matches!(c.as_str(), "utf-8" | "utf8" | "us-ascii" | "ascii") {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    match mail_parser::decoders::charsets::map::charset_decoder(c.as_bytes()) {
        Some(decoder) => decoder(bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Decodes an unstructured header value (unfolded or not). Whitespace between adjacent encoded
/// words is dropped; words of one charset are joined before decoding.
pub fn decode_unstructured(raw: &str) -> String {
    let unfolded: String = raw.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    let mut out = String::with_capacity(unfolded.len());
    let mut pending: Option<(String, Vec<u8>)> = None;
    let mut gap = String::new();
    let mut i = 0;
    let s = unfolded.as_str();
    while i < s.len() {
        if let Some((word, len)) = s[i..]
            .starts_with("=?")
            .then(|| encoded_word(&s[i..]))
            .flatten()
        {
            match pending.as_mut() {
                Some((charset, bytes)) if charset.eq_ignore_ascii_case(word.charset) => {
                    bytes.extend(word.bytes)
                }
                _ => {
                    if let Some((charset, bytes)) = pending.take() {
                        out.push_str(&decode_charset(&charset, &bytes));
                    }
                    pending = Some((word.charset.to_owned(), word.bytes));
                }
            }
            gap.clear();
            i += len;
            continue;
        }
        let c = s[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() && pending.is_some() {
            gap.push(c);
        } else {
            if let Some((charset, bytes)) = pending.take() {
                out.push_str(&decode_charset(&charset, &bytes));
            }
            out.push_str(&gap);
            gap.clear();
            out.push(c);
        }
        i += c.len_utf8();
    }
    if let Some((charset, bytes)) = pending.take() {
        out.push_str(&decode_charset(&charset, &bytes));
    }
    out.push_str(&gap);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_split_across_words_is_joined() {
        // "お問" is E3 81 8A E5 95 8F; split after the 4th byte.
        assert_eq!(
            decode_unstructured("=?UTF-8?B?44GK5Q==?=\r\n =?UTF-8?B?lY8=?="),
            "お問"
        );
    }

    #[test]
    fn plain_text_and_q_words_mix() {
        assert_eq!(
            decode_unstructured("Re: =?iso-8859-1?Q?Fr=F6sche_und?= Hasen"),
            "Re: Frösche und Hasen"
        );
        assert_eq!(decode_unstructured("no words here"), "no words here");
        assert_eq!(decode_unstructured("=?bogus"), "=?bogus");
        assert_eq!(
            decode_unstructured("=?utf-8?Q?a?= =?iso-8859-1?Q?=E9?="),
            "aé"
        );
    }
}
