//! HTML bodies: sanitising for display, and converting to text with the quoted history cut out.
//!
//! The converter is a small, bounded tag scanner (no DOM): it only has to find text, line
//! breaks and the few elements that mail clients wrap quoted history in.

use std::collections::HashSet;

/// Sanitises an HTML body for display: no scripts, styles, frames, forms, event handlers or
/// `javascript:` URLs; images keep only `cid:` sources (remote images are neutralised by
/// dropping their `src`); links get `rel="noopener noreferrer"`.
pub fn sanitize(html: &str) -> String {
    let schemes: HashSet<&str> = ["http", "https", "mailto", "tel", "cid"]
        .into_iter()
        .collect();
    ammonia::Builder::default()
        .url_schemes(schemes)
        .attribute_filter(|element, attribute, value| {
            if element == "img" && attribute == "src" {
                let v = value.trim_start();
                return v
                    .get(..4)
                    .is_some_and(|p| p.eq_ignore_ascii_case("cid:"))
                    .then_some(value.into());
            }
            Some(value.into())
        })
        .clean(html)
        .to_string()
}

/// Where an element that holds quoted history ends.
#[derive(Clone, Copy, PartialEq)]
enum QuoteKind {
    /// Only the element itself is history (Gmail, Apple Mail, Thunderbird).
    Element,
    /// The element and everything after it are history (Outlook's reply header).
    Rest,
}

fn quote_kind(tag: &str, attrs: &str) -> Option<QuoteKind> {
    let a = attrs.to_ascii_lowercase();
    let class = attr_value(&a, "class").unwrap_or_default();
    let id = attr_value(&a, "id").unwrap_or_default();
    let classes: Vec<&str> = class.split_whitespace().collect();
    let has_class = |c: &str| classes.contains(&c);
    if id == "divrplyfwdmsg"
        || id == "appendonsend"
        || id == "stopspelling"
        || id == "x_divrplyfwdmsg"
    {
        return Some(QuoteKind::Rest);
    }
    if has_class("gmail_quote")
        || has_class("gmail_quote_container")
        || has_class("moz-cite-prefix")
        || has_class("yahoo_quoted")
        || has_class("protonmail_quote")
        || (tag == "blockquote" && attr_value(&a, "type").as_deref() == Some("cite"))
    {
        return Some(QuoteKind::Element);
    }
    None
}

/// The value of `name` in a tag's attribute text (lowercased by the caller).
fn attr_value(attrs: &str, name: &str) -> Option<String> {
    let bytes = attrs.as_bytes();
    let mut from = 0;
    while let Some(pos) = attrs[from..].find(name) {
        let start = from + pos;
        from = start + name.len();
        let before_ok = start == 0 || bytes[start - 1].is_ascii_whitespace();
        let rest = attrs[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let rest = rest[1..].trim_start();
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or_default(),
            _ => rest
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or_default(),
        };
        return Some(value.to_owned());
    }
    None
}

const BLOCK: &[&str] = &[
    "p",
    "div",
    "tr",
    "table",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "dl",
    "dt",
    "dd",
    "address",
    "center",
];
const SKIP_CONTENT: &[&str] = &[
    "script", "style", "title", "head", "textarea", "template", "noscript", "xml",
];

/// Text output that collapses whitespace like a browser and keeps explicit line breaks.
#[derive(Default)]
struct TextOut {
    out: String,
    pending_space: bool,
}

impl TextOut {
    fn text(&mut self, s: &str, pre: bool) {
        for c in s.chars() {
            if pre {
                self.out.push(c);
                continue;
            }
            if c.is_whitespace() && c != '\u{a0}' {
                self.pending_space = true;
            } else {
                if self.pending_space && !self.out.is_empty() && !self.out.ends_with('\n') {
                    self.out.push(' ');
                }
                self.pending_space = false;
                self.out.push(if c == '\u{a0}' { ' ' } else { c });
            }
        }
    }

    fn newline(&mut self) {
        self.pending_space = false;
        while self.out.ends_with(' ') {
            self.out.pop();
        }
        self.out.push('\n');
    }

    fn block(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            if !self.out.ends_with('\n') {
                self.newline();
            }
            self.newline();
        }
    }
}

/// HTML converted to text, split into the new part and the quoted history found by markup.
pub struct HtmlText {
    pub new: String,
    pub quoted: String,
}

/// Converts HTML to text. Content inside quote markers (`div.gmail_quote`,
/// `blockquote[type=cite]`, …) and after Outlook's `#divRplyFwdMsg` goes to `quoted`.
pub fn to_text(html: &str) -> HtmlText {
    let mut new = TextOut::default();
    let mut quoted = TextOut::default();
    // (tag, depth of that tag name) of the quote element we are in.
    let mut in_quote: Option<(String, usize)> = None;
    let mut rest_is_quote = false;
    let mut pre = 0usize;
    let mut i = 0;
    let bytes = html.as_bytes();
    while i < html.len() {
        let target = if rest_is_quote || in_quote.is_some() {
            &mut quoted
        } else {
            &mut new
        };
        if bytes[i] != b'<' {
            let end = html[i..].find('<').map_or(html.len(), |p| i + p);
            target.text(&decode_entities(&html[i..end]), pre > 0);
            i = end;
            continue;
        }
        let rest = &html[i..];
        if rest.starts_with("<!--") {
            i = rest.find("-->").map_or(html.len(), |p| i + p + 3);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            i = rest.find('>').map_or(html.len(), |p| i + p + 1);
            continue;
        }
        let starts_tag = rest[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '/');
        let Some(close) = tag_end(rest).filter(|_| starts_tag) else {
            target.text("<", pre > 0);
            i += 1;
            continue;
        };
        let inner = &rest[1..close];
        i += close + 1;
        let closing = inner.starts_with('/');
        let inner = inner.trim_start_matches('/');
        let name_end = inner
            .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
            .unwrap_or(inner.len());
        let name = inner[..name_end].to_ascii_lowercase();
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            target.text(&decode_entities(&rest[..close + 1]), pre > 0);
            continue;
        }
        let attrs = &inner[name_end..];
        if !closing && SKIP_CONTENT.contains(&name.as_str()) {
            let end_tag = format!("</{name}");
            if let Some(p) = find_ascii_ci(&html[i..], &end_tag) {
                i += p;
                i = html[i..].find('>').map_or(html.len(), |q| i + q + 1);
            }
            continue;
        }
        // Quote tracking.
        if let Some((qtag, depth)) = in_quote.as_mut()
            && *qtag == name
        {
            if closing {
                *depth -= 1;
                if *depth == 0 {
                    in_quote = None;
                    quoted.block();
                    continue;
                }
            } else if !attrs.trim_end().ends_with('/') {
                *depth += 1;
            }
        } else if !closing && in_quote.is_none() && !rest_is_quote {
            match quote_kind(&name, attrs) {
                Some(QuoteKind::Rest) => rest_is_quote = true,
                Some(QuoteKind::Element) => in_quote = Some((name.clone(), 1)),
                None => {}
            }
        }
        let target = if rest_is_quote || in_quote.is_some() {
            &mut quoted
        } else {
            &mut new
        };
        match name.as_str() {
            "br" => target.newline(),
            "pre" => {
                target.block();
                if closing {
                    pre = pre.saturating_sub(1);
                } else {
                    pre += 1;
                }
            }
            "li" if !closing => {
                target.newline();
                target.text("- ", true);
            }
            "td" | "th" if !closing => target.text(" ", false),
            n if BLOCK.contains(&n) => target.block(),
            _ => {}
        }
    }
    HtmlText {
        new: tidy(&new.out),
        quoted: tidy(&quoted.out),
    }
}

/// The first position of `needle` (ASCII, lowercase) in `hay`, ignoring ASCII case.
fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.as_bytes();
    hay.as_bytes()
        .windows(n.len())
        .position(|w| w.eq_ignore_ascii_case(n))
}

/// Where a tag that starts at 0 ends (its `>`), honouring quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote: Option<u8> = None;
    for (i, b) in s.bytes().enumerate().skip(1) {
        match (quote, b) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'')
                if s.as_bytes()[i - 1] == b'=' || s.as_bytes()[i - 1].is_ascii_whitespace() =>
            {
                quote = Some(b)
            }
            (None, b'>') => return Some(i),
            (None, b'<') => return None,
            _ => {}
        }
    }
    None
}

fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
            out.push('\n');
        } else {
            blank = 0;
            out.push_str(line);
            out.push('\n');
        }
    }
    out.trim().to_owned()
}

/// Decodes the common named entities and all numeric ones.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        let end = rest[1..]
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '#')
            .map(|e| e + 1);
        let (entity, consumed) = match end {
            Some(e) if e > 1 => (
                &rest[1..e],
                if rest[e..].starts_with(';') { e + 1 } else { e },
            ),
            None if rest.len() > 1 => (&rest[1..], rest.len()),
            _ => ("", 0),
        };
        match decode_entity(entity) {
            Some(c) => {
                out.push(c);
                rest = &rest[consumed..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(e: &str) -> Option<char> {
    if let Some(num) = e.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code)
            .filter(|c| *c != '\0')
            .or(Some('\u{fffd}'));
    }
    Some(match e {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "deg" => '°',
        "middot" => '·',
        "bull" => '•',
        "times" => '×',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "eacute" => 'é',
        "egrave" => 'è',
        "agrave" => 'à',
        "ccedil" => 'ç',
        "zwnj" => '\u{200c}',
        "zwj" => '\u{200d}',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitising_removes_active_content_and_remote_images() {
        let dirty = r#"<p onclick="x()">Hi<script>alert(1)</script><style>p{}</style></p>
<iframe src="https://evil"></iframe><form><input name=a></form>
<a href="javascript:alert(1)">j</a><a href="https://ok.example/">ok</a>
<img src="https://tracker.example/p.gif"><img src="cid:image001@x">"#;
        let clean = sanitize(dirty);
        for bad in [
            "onclick",
            "script",
            "alert",
            "style",
            "iframe",
            "form",
            "input",
            "javascript",
            "tracker",
        ] {
            assert!(!clean.contains(bad), "{bad} in {clean}");
        }
        assert!(clean.contains(r#"src="cid:image001@x""#), "{clean}");
        assert!(clean.contains("https://ok.example/"));
    }

    #[test]
    fn gmail_quote_is_cut_from_the_text() {
        let t = to_text(
            r#"Hello<br><br><div class="gmail_quote">On Mon, Megan wrote:<br><blockquote class="gmail_quote">Hi</blockquote></div><br>"#,
        );
        assert_eq!(t.new, "Hello");
        assert_eq!(t.quoted, "On Mon, Megan wrote:\n\nHi");
    }

    #[test]
    fn outlook_reply_header_cuts_the_rest() {
        let t = to_text(
            r#"<div>Yes</div><div id="divRplyFwdMsg"><b>From:</b> A</div><div>old body</div>"#,
        );
        assert_eq!(t.new, "Yes");
        assert!(t.quoted.contains("old body"));
    }

    #[test]
    fn text_after_a_cited_blockquote_is_new() {
        let t = to_text(
            r#"<blockquote type="cite"><div>old<blockquote type="cite">older</blockquote>still old</div></blockquote><p>new &amp; shiny&nbsp;&#x41;</p>"#,
        );
        assert_eq!(t.new, "new & shiny A");
        assert!(t.quoted.contains("still old"));
    }

    #[test]
    fn scripts_styles_and_comments_are_not_text() {
        let t = to_text(
            "<html><head><title>T</title><style>p{color:red}</style></head><body><!-- c --><p>a<SCRIPT>x</SCRIPT></p><ul><li>one<li>two</ul></body></html>",
        );
        assert_eq!(t.new, "a\n\n- one\n- two");
    }

    #[test]
    fn broken_markup_does_not_lose_text() {
        assert_eq!(
            to_text("a < b and <b>c</b> &bogus; &").new,
            "a < b and c &bogus; &"
        );
        assert_eq!(
            to_text("<p>unterminated <a href=\"x").new,
            "unterminated <a href=\"x"
        );
    }
}
