//! Splitting the new text of a reply from quoted history and signatures (plain text).

/// Words that end a reply-header line such as "On Mon, X wrote:" in the languages we meet.
const WROTE: &[&str] = &[
    "wrote",
    "schrieb",
    "a écrit",
    "escribió",
    "ha scritto",
    "schreef",
    "napisał",
    "пишет",
    "написал",
    "написала",
    "написал(а)",
    "skrev",
    "kirjoitti",
    "yazdı",
    "escreveu",
    "写道",
    "のメール",
    "wrote on",
];

/// Lines that open a forwarded/replied block in Outlook and friends; everything after is history.
const ORIGINAL_MESSAGE: &[&str] = &[
    "original message",
    "ursprüngliche nachricht",
    "message d'origine",
    "mensaje original",
    "messaggio originale",
    "oorspronkelijk bericht",
    "mensagem original",
    "исходное сообщение",
    "forwarded message",
];

const FROM_FIELDS: &[&str] = &[
    "from:",
    "von:",
    "de:",
    "de :",
    "da:",
    "van:",
    "od:",
    "от:",
    "发件人:",
    "发件人：",
];
const SENT_FIELDS: &[&str] = &[
    "sent:",
    "date:",
    "gesendet:",
    "datum:",
    "envoyé :",
    "envoyé:",
    "enviado:",
    "fecha:",
    "inviato:",
    "verzonden:",
    "отправлено:",
    "дата:",
    "发送时间:",
    "发送时间：",
    "date :",
];
const SUBJECT_FIELDS: &[&str] = &[
    "subject:",
    "to:",
    "betreff:",
    "an:",
    "objet :",
    "objet:",
    "à :",
    "asunto:",
    "para:",
    "oggetto:",
    "onderwerp:",
    "aan:",
    "тема:",
    "кому:",
    "主题:",
    "主题：",
    "收件人:",
    "收件人：",
];

const SIGN_OFFS: &[&str] = &[
    "sent from my ",
    "sent from mail for windows",
    "sent from outlook",
    "sent from yahoo mail",
    "get outlook for ",
    "von meinem iphone gesendet",
    "von meinem ipad gesendet",
    "envoyé de mon iphone",
    "enviado desde mi ",
    "inviato da iphone",
    "отправлено с iphone",
];

fn lower(line: &str) -> String {
    line.trim().to_lowercase()
}

fn starts_with_any(line: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| line.starts_with(p))
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// "On … wrote:" and its localised variants, on one line.
fn is_reply_header(line: &str) -> bool {
    let l = lower(line);
    if l.len() > 300 || is_quoted(&l) {
        return false;
    }
    let Some(body) = l.strip_suffix(':').or_else(|| l.strip_suffix('：')) else {
        return false;
    };
    let body = body.trim_end();
    WROTE.iter().any(|w| {
        body.ends_with(w)
            || body
                .rsplit_once(w)
                .is_some_and(|(_, tail)| tail.split_whitespace().count() <= 4)
    }) && body.contains(' ')
        && (body.contains('@') || body.chars().any(|c| c.is_ascii_digit()))
}

fn is_original_message_line(line: &str) -> bool {
    let l = lower(line);
    let trimmed = l.trim_matches(|c: char| c == '-' || c == '_' || c == '=' || c.is_whitespace());
    (l.starts_with("---") || l.starts_with("___") || l.starts_with("==="))
        && ORIGINAL_MESSAGE
            .iter()
            .any(|m| trimmed == *m || trimmed.starts_with(m))
}

/// An Outlook-style header block: "From: …" followed within a few lines by "Sent:/Date:" and
/// "Subject:/To:" (optionally preceded by a line of underscores).
fn is_header_block(lines: &[&str], i: usize) -> bool {
    let first = lower(lines[i]);
    let first = first.trim_start_matches('*');
    if !starts_with_any(first, FROM_FIELDS) {
        return false;
    }
    let window = lines
        .iter()
        .skip(i + 1)
        .take(6)
        .map(|l| lower(l).trim_start_matches('*').to_owned());
    let mut sent = false;
    let mut subject = false;
    for l in window {
        sent |= starts_with_any(&l, SENT_FIELDS);
        subject |= starts_with_any(&l, SUBJECT_FIELDS);
    }
    sent && subject
}

fn is_underscore_rule(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 20 && t.chars().all(|c| c == '_')
}

fn is_signature_start(line: &str) -> bool {
    line == "-- " || line == "--" || line == "-- \r" || starts_with_any(&lower(line), SIGN_OFFS)
}

/// Splits `text` into the new part and what was removed (quoted history and signature).
/// Never returns an empty new part for a text that has one: if everything would be removed,
/// the whole text is returned as new.
pub fn split_reply(text: &str) -> (String, Option<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let mut removed = vec![false; lines.len()];

    // 1. The first line from which everything is history or signature.
    let mut cut = lines.len();
    for i in 0..lines.len() {
        let line = lines[i];
        if is_quoted(line) {
            continue;
        }
        if is_signature_start(line) || is_original_message_line(line) || is_header_block(&lines, i)
        {
            cut = i;
            break;
        }
        if is_underscore_rule(line) && i + 1 < lines.len() && is_header_block(&lines, i + 1) {
            cut = i;
            break;
        }
        // "On … wrote:" possibly wrapped over two or three lines.
        let header_len = (1..=3).find(|n| {
            i + n <= lines.len()
                && (*n == 1
                    || lines[i].contains('@')
                    || lines[i].chars().any(|c| c.is_ascii_digit()))
                && lines[i..i + n]
                    .iter()
                    .all(|l| !l.trim().is_empty() && !is_quoted(l))
                && is_reply_header(&lines[i..i + n].join(" "))
        });
        if let Some(n) = header_len {
            let next = lines[i + n..].iter().find(|l| !l.trim().is_empty());
            match next {
                Some(l) if is_quoted(l) => {
                    removed[i..i + n].iter_mut().for_each(|r| *r = true);
                }
                _ => {
                    cut = i;
                    break;
                }
            }
        }
    }
    removed[cut..].iter_mut().for_each(|r| *r = true);

    // 2. ">"-quoted lines anywhere, with the blank lines between quoted blocks.
    for (i, line) in lines.iter().enumerate() {
        if is_quoted(line) {
            removed[i] = true;
        }
    }

    let new: Vec<&str> = lines
        .iter()
        .zip(&removed)
        .filter(|(_, r)| !**r)
        .map(|(l, _)| *l)
        .collect();
    let old: Vec<&str> = lines
        .iter()
        .zip(&removed)
        .filter(|(_, r)| **r)
        .map(|(l, _)| *l)
        .collect();
    let new = collapse_blank_runs(&new);
    let old = old.join("\n");
    let (new, old) = (new.trim(), old.trim());
    if new.is_empty() {
        return (text.trim().to_owned(), None);
    }
    (new.to_owned(), (!old.is_empty()).then(|| old.to_owned()))
}

/// Joins lines, leaving at most one blank line in a row (removed blocks leave gaps).
fn collapse_blank_runs(lines: &[&str]) -> String {
    let mut out = String::new();
    let mut blank_run = 0;
    for line in lines {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_style_reply_is_split() {
        let (new, old) = split_reply(
            "Hello\n\nOn Mon, Apr 2, 2012 at 6:26 PM, Megan <x@gmail.com> wrote:\n\n> Hi\n",
        );
        assert_eq!(new, "Hello");
        assert!(old.unwrap().contains("> Hi"));
    }

    #[test]
    fn wrapped_reply_header_is_found() {
        let (new, old) = split_reply(
            "Thanks!\n\nOn Mon, Apr 2, 2012 at 6:26 PM, Megan One <\nxxx@gmail.com> wrote:\n> Hi",
        );
        assert_eq!(new, "Thanks!");
        assert!(old.unwrap().starts_with("On Mon"));
    }

    #[test]
    fn bottom_posted_reply_keeps_the_text_after_the_quote() {
        let (new, old) = split_reply("On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi \nHello");
        assert_eq!(new, "Hello");
        assert_eq!(
            old.as_deref(),
            Some("On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi")
        );
    }

    #[test]
    fn localised_headers_are_found() {
        for header in [
            "Am 02.04.2012 um 14:20 schrieb Bob <bob@example.com>:",
            "Le 2 avr. 2012 à 14:20, Bob <bob@example.com> a écrit :",
            "El 2 abr 2012, a las 14:20, Bob escribió:",
            "02.04.2012 14:20 пользователь \"bob@example.com\" <bob@example.com> написал:",
        ] {
            let (new, old) = split_reply(&format!("Danke\n\n{header}\n\nOld text\n"));
            assert_eq!(new, "Danke", "{header}");
            assert!(old.unwrap().contains("Old text"));
        }
    }

    #[test]
    fn outlook_header_block_cuts_the_rest() {
        let text = "Hello\n\nFrom: xxx@xxx.mailgun.org [mailto:xxx@xxx.mailgun.org]\nSent: March-09-12 4:22 PM\nTo: Dan Le\nSubject: The manager\n\nHi dan";
        let (new, old) = split_reply(text);
        assert_eq!(new, "Hello");
        assert!(old.unwrap().ends_with("Hi dan"));
        let (new, _) = split_reply("Yes\n-----Original Message-----\nFrom: a\nold");
        assert_eq!(new, "Yes");
    }

    #[test]
    fn signatures_are_removed() {
        let (new, old) = split_reply("See you\n-- \nBob\nACME Inc.");
        assert_eq!(new, "See you");
        assert_eq!(old.as_deref(), Some("-- \nBob\nACME Inc."));
        let (new, _) = split_reply("Ok\n\nSent from my iPhone");
        assert_eq!(new, "Ok");
        let (new, _) = split_reply("Ok\n\nGet Outlook for Android");
        assert_eq!(new, "Ok");
    }

    #[test]
    fn nothing_is_removed_from_a_plain_message() {
        let text = "Hello,\nmy order 12345 did not arrive.\nThe note said: wrote: nothing";
        assert_eq!(split_reply(text), (text.to_owned(), None));
    }

    #[test]
    fn an_all_quoted_message_is_kept_whole() {
        let text = "> only a quote\n> nothing else";
        assert_eq!(split_reply(text), (text.to_owned(), None));
        assert_eq!(
            split_reply("-- \nsig only"),
            ("-- \nsig only".to_owned(), None)
        );
    }
}
