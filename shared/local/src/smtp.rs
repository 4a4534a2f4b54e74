//! A small inbound SMTP server (RFC 5321) for the embedded runtime: it listens on a loopback
//! or private port behind the deployment's MX or relay, which does TLS, authentication and
//! spam filtering. It has no TLS or AUTH of its own and must not face the internet directly.
//!
//! Each connection is one [`session`]: greeting, `EHLO`/`HELO`, `MAIL`, `RCPT` (the
//! [`MailSink`] decides which recipients exist), `DATA`, `RSET`, `NOOP`, `VRFY`, `QUIT`, with
//! `PIPELINING`, `SIZE`, `8BITMIME`, `SMTPUTF8` and `ENHANCEDSTATUSCODES`. A message is handed
//! to the sink only when its end (`<CRLF>.<CRLF>`) arrived, dot-unstuffed and otherwise byte for
//! byte as sent; `250` is answered only after the sink returned. The session is bounded: command
//! lines are capped at [`MAX_COMMAND_LINE`] bytes, a message is never buffered beyond
//! `max_message_bytes` (a longer one is read to its end, dropped and answered `552`), an idle
//! client is disconnected with `421`, and so is one that keeps sending bad commands.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// Longest command line accepted, its line end included (RFC 5321 asks for at least 512;
/// `SMTPUTF8` addresses and parameters make lines longer).
pub const MAX_COMMAND_LINE: usize = 4096;
/// Bytes of message content read at a time when a line is longer (DATA lines are not capped,
/// only the whole message is).
const DATA_PIECE: usize = 8192;
/// Bad commands tolerated in one session before it is closed.
const MAX_ERRORS: usize = 20;
/// Longest path (address with its angle brackets) accepted (RFC 5321 4.5.3.1.3).
const MAX_PATH: usize = 256;
/// How long [`serve`] waits for open sessions after the shutdown signal before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Settings of the SMTP listener.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// The name the server greets with (`mx.example.com`).
    pub hostname: String,
    /// Largest message accepted, in bytes (after dot-unstuffing).
    pub max_message_bytes: usize,
    /// Recipients per message (`452` beyond).
    pub max_recipients: usize,
    /// A client silent for this long is disconnected with `421`.
    pub idle_timeout: Duration,
    /// Sessions served at once by [`serve`]; more connections are answered `421` and closed.
    pub max_connections: usize,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            hostname: "localhost".to_owned(),
            max_message_bytes: 25 * 1024 * 1024,
            max_recipients: 100,
            idle_timeout: Duration::from_secs(5 * 60),
            max_connections: 64,
        }
    }
}

/// A received message and its envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `MAIL FROM` address without angle brackets; empty for a bounce (`<>`).
    pub mail_from: String,
    /// Accepted `RCPT TO` addresses, in order, without duplicates.
    pub rcpt_to: Vec<String>,
    /// The message as sent, dot-unstuffed, line ends untouched (CRLF), ending with the line
    /// end before the final `.`.
    pub raw: Vec<u8>,
    /// The name the client gave in `EHLO`/`HELO`.
    pub helo: String,
    /// The client's address (`ip:port`).
    pub peer: String,
}

/// What the sink says about a recipient or a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Refused for good (answered `5xx` with this text).
    Reject(String),
    /// Refused for now (answered `4xx` with this text): the client retries later.
    TryLater(String),
}

/// Where received mail goes.
#[async_trait]
pub trait MailSink: Send + Sync {
    /// Whether `rcpt` is one of ours (a configured mailbox, a `reply+<token>` address).
    async fn recipient(&self, rcpt: &str) -> Verdict;
    /// Takes one complete message. `Accept` means it is stored durably: the client hears
    /// `250` only after this returned, and forgets the message.
    async fn deliver(&self, envelope: Envelope) -> Verdict;
}

/// Serves SMTP on `listener` until `shutdown` completes, one task per connection (at most
/// `config.max_connections`). After the shutdown, open sessions get a few seconds to finish
/// and are then dropped (a client that did not hear `250` sends again).
pub async fn serve(
    listener: TcpListener,
    config: SmtpConfig,
    sink: Arc<dyn MailSink>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let config = Arc::new(config);
    let slots = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    let mut sessions = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    // Replies are small writes that must not wait for the client's ACK of the
                    // previous one (Nagle + delayed ACK: up to 40 ms per reply).
                    let _ = stream.set_nodelay(true);
                    let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                        let busy = format!("421 4.3.2 {} too busy, try again later\r\n", config.hostname);
                        let _ = stream.try_write(busy.as_bytes());
                        continue;
                    };
                    let (config, sink) = (Arc::clone(&config), Arc::clone(&sink));
                    sessions.spawn(async move {
                        let peer = addr.to_string();
                        if let Err(e) = session(stream, peer.clone(), &config, sink.as_ref()).await {
                            tracing::debug!(peer, error = %e, "SMTP session ended with an error");
                        }
                        drop(slot);
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "SMTP listener cannot accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
    sessions.shutdown().await;
    Ok(())
}

/// Why a session stops reading.
enum End {
    /// The client closed the connection.
    Eof,
    /// The client was silent for the idle timeout.
    Idle,
    Io(io::Error),
}

impl From<io::Error> for End {
    fn from(e: io::Error) -> Self {
        End::Io(e)
    }
}

/// How a bounded read ended.
#[derive(PartialEq, Eq)]
enum Piece {
    /// A line end (LF) was read.
    Line,
    /// `max` bytes were read without a line end.
    Cut,
}

/// One connection: buffered reads, replies collected and flushed whenever the next read would
/// wait (so pipelined commands get their replies in one write).
struct Conn<S> {
    reader: BufReader<tokio::io::ReadHalf<S>>,
    writer: tokio::io::WriteHalf<S>,
    out: Vec<u8>,
    idle: Duration,
}

impl<S: AsyncRead + AsyncWrite> Conn<S> {
    fn reply(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    async fn flush(&mut self) -> Result<(), End> {
        if self.out.is_empty() {
            return Ok(());
        }
        let write = async {
            self.writer.write_all(&self.out).await?;
            self.writer.flush().await
        };
        match tokio::time::timeout(self.idle, write).await {
            Ok(result) => result?,
            Err(_) => return Err(End::Idle),
        }
        self.out.clear();
        Ok(())
    }

    /// Appends to `buf` up to and including the next LF, or until `buf` holds `max` bytes.
    async fn read_piece(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<Piece, End> {
        loop {
            if self.reader.buffer().is_empty() {
                self.flush().await?;
            }
            let available = match tokio::time::timeout(self.idle, self.reader.fill_buf()).await {
                Ok(result) => result?,
                Err(_) => return Err(End::Idle),
            };
            if available.is_empty() {
                return Err(End::Eof);
            }
            let room = max.saturating_sub(buf.len());
            let window = &available[..available.len().min(room)];
            if let Some(i) = window.iter().position(|&b| b == b'\n') {
                buf.extend_from_slice(&window[..=i]);
                self.reader.consume(i + 1);
                return Ok(Piece::Line);
            }
            let n = window.len();
            buf.extend_from_slice(window);
            self.reader.consume(n);
            if buf.len() >= max {
                return Ok(Piece::Cut);
            }
        }
    }
}

/// The mail transaction in progress.
#[derive(Default)]
struct Transaction {
    from: Option<String>,
    rcpts: Vec<String>,
}

/// Serves one SMTP connection until `QUIT`, the client's close, the idle timeout or too many
/// errors. `peer` names the client in logs and in the [`Envelope`]. Used by [`serve`]; tests
/// call it directly over any stream.
pub async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: String,
    config: &SmtpConfig,
    sink: &dyn MailSink,
) -> io::Result<()> {
    let (reader, writer) = tokio::io::split(stream);
    let mut conn = Conn {
        reader: BufReader::with_capacity(DATA_PIECE, reader),
        writer,
        out: Vec::with_capacity(512),
        idle: config.idle_timeout,
    };
    match converse(&mut conn, &peer, config, sink).await {
        Ok(()) | Err(End::Eof) => Ok(()),
        Err(End::Idle) => {
            conn.out.clear();
            conn.reply(&format!(
                "421 4.4.2 {} idle for too long, closing connection",
                config.hostname
            ));
            let _ = conn.flush().await;
            Ok(())
        }
        Err(End::Io(e)) => Err(e),
    }
}

async fn converse<S: AsyncRead + AsyncWrite>(
    conn: &mut Conn<S>,
    peer: &str,
    config: &SmtpConfig,
    sink: &dyn MailSink,
) -> Result<(), End> {
    let host = &config.hostname;
    conn.reply(&format!("220 {host} ESMTP omnidesk"));
    let mut helo: Option<String> = None;
    let mut tx = Transaction::default();
    let mut errors = 0usize;
    let mut line = Vec::with_capacity(512);
    loop {
        if errors > MAX_ERRORS {
            conn.reply(&format!(
                "421 4.7.0 {host} too many errors, closing connection"
            ));
            conn.flush().await?;
            return Ok(());
        }
        line.clear();
        if conn.read_piece(&mut line, MAX_COMMAND_LINE).await? == Piece::Cut {
            // Skip the rest of the line, a bounded piece at a time.
            let mut rest = Vec::with_capacity(MAX_COMMAND_LINE);
            loop {
                rest.clear();
                if conn.read_piece(&mut rest, MAX_COMMAND_LINE).await? == Piece::Line {
                    break;
                }
            }
            conn.reply("500 5.5.2 Line too long");
            errors += 1;
            continue;
        }
        let Ok(text) = std::str::from_utf8(trim_line_end(&line)) else {
            conn.reply("500 5.5.2 Syntax error: not UTF-8");
            errors += 1;
            continue;
        };
        let (verb, arg) = text.split_once(' ').unwrap_or((text, ""));
        let arg = arg.trim();
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" if arg.is_empty() => {
                conn.reply("501 5.5.4 Syntax: EHLO hostname");
                errors += 1;
            }
            "EHLO" => {
                helo = Some(clean(arg, "unknown"));
                tx = Transaction::default();
                conn.reply(&format!("250-{host} greets {}", clean(arg, "you")));
                conn.reply(&format!("250-SIZE {}", config.max_message_bytes));
                conn.reply("250-8BITMIME");
                conn.reply("250-SMTPUTF8");
                conn.reply("250-PIPELINING");
                conn.reply("250 ENHANCEDSTATUSCODES");
            }
            "HELO" => {
                helo = Some(clean(arg, "unknown"));
                tx = Transaction::default();
                conn.reply(&format!("250 {host}"));
            }
            "MAIL" => {
                let reply = mail_from(arg, helo.is_some(), &mut tx, config);
                errors += usize::from(reply.starts_with("50") || reply.starts_with("55"));
                conn.reply(&reply);
            }
            "RCPT" => {
                let reply = rcpt_to(arg, &mut tx, config, sink).await;
                // Refused recipients count too: guessing addresses is an error.
                errors += usize::from(reply.starts_with('5'));
                conn.reply(&reply);
            }
            "DATA" => {
                if !arg.is_empty() {
                    conn.reply("501 5.5.4 Syntax: DATA");
                    errors += 1;
                    continue;
                }
                if tx.from.is_none() {
                    conn.reply("503 5.5.1 Send MAIL first");
                    errors += 1;
                    continue;
                }
                if tx.rcpts.is_empty() {
                    conn.reply("503 5.5.1 Send RCPT first (no valid recipients)");
                    errors += 1;
                    continue;
                }
                conn.reply("354 End data with <CR><LF>.<CR><LF>");
                let raw = read_data(conn, config.max_message_bytes).await?;
                let tx = std::mem::take(&mut tx);
                let Some(raw) = raw else {
                    conn.reply(&format!(
                        "552 5.3.4 {}",
                        too_large(config.max_message_bytes)
                    ));
                    continue;
                };
                let envelope = Envelope {
                    mail_from: tx.from.unwrap_or_default(),
                    rcpt_to: tx.rcpts,
                    raw,
                    helo: helo.clone().unwrap_or_default(),
                    peer: peer.to_owned(),
                };
                let size = envelope.raw.len();
                // Replies wait for the sink: flush what is pending first.
                conn.flush().await?;
                let reply = match sink.deliver(envelope).await {
                    Verdict::Accept => "250 2.0.0 OK: message accepted".to_owned(),
                    Verdict::Reject(why) => {
                        format!("554 5.6.0 {}", clean(&why, "Message refused"))
                    }
                    Verdict::TryLater(why) => format!(
                        "451 4.3.0 {}",
                        clean(&why, "Temporary failure, try again later")
                    ),
                };
                tracing::debug!(peer, size, reply = %reply, "SMTP message handed to the sink");
                conn.reply(&reply);
            }
            "RSET" => {
                tx = Transaction::default();
                conn.reply("250 2.0.0 OK");
            }
            "NOOP" => conn.reply("250 2.0.0 OK"),
            "VRFY" => conn
                .reply("252 2.1.5 Cannot VRFY user, but will accept message and attempt delivery"),
            "HELP" => {
                conn.reply("214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP VRFY QUIT")
            }
            "QUIT" => {
                conn.reply(&format!("221 2.0.0 {host} closing connection"));
                conn.flush().await?;
                return Ok(());
            }
            "EXPN" | "TURN" | "ETRN" | "ATRN" | "BDAT" | "STARTTLS" | "AUTH" | "SEND" | "SOML"
            | "SAML" => {
                conn.reply("502 5.5.1 Command not implemented");
                errors += 1;
            }
            _ => {
                conn.reply("500 5.5.2 Command not recognised");
                errors += 1;
            }
        }
    }
}

/// Handles `MAIL FROM:<path> [params]`; returns the reply.
fn mail_from(arg: &str, greeted: bool, tx: &mut Transaction, config: &SmtpConfig) -> String {
    if !greeted {
        return "503 5.5.1 Send EHLO or HELO first".to_owned();
    }
    if tx.from.is_some() {
        return "503 5.5.1 Sender already given (RSET to start over)".to_owned();
    }
    let Some(rest) = strip_prefix_ignore_case(arg, "FROM:") else {
        return "501 5.5.4 Syntax: MAIL FROM:<address>".to_owned();
    };
    let Some((address, params)) = parse_path(rest, true) else {
        return "501 5.1.7 Bad sender address syntax".to_owned();
    };
    for param in params.split_ascii_whitespace() {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        match key.to_ascii_uppercase().as_str() {
            "SIZE" => match value.parse::<u64>() {
                Ok(size) if size > config.max_message_bytes as u64 => {
                    return format!("552 5.3.4 {}", too_large(config.max_message_bytes));
                }
                Ok(_) => {}
                Err(_) => return "501 5.5.4 Bad SIZE parameter".to_owned(),
            },
            "BODY" if ["7BIT", "8BITMIME"].contains(&value.to_ascii_uppercase().as_str()) => {}
            "SMTPUTF8" if value.is_empty() => {}
            _ => return "555 5.5.4 Unsupported MAIL parameter".to_owned(),
        }
    }
    tx.from = Some(address);
    "250 2.1.0 OK".to_owned()
}

/// Handles `RCPT TO:<path>`; returns the reply.
async fn rcpt_to(
    arg: &str,
    tx: &mut Transaction,
    config: &SmtpConfig,
    sink: &dyn MailSink,
) -> String {
    if tx.from.is_none() {
        return "503 5.5.1 Send MAIL first".to_owned();
    }
    let Some(rest) = strip_prefix_ignore_case(arg, "TO:") else {
        return "501 5.5.4 Syntax: RCPT TO:<address>".to_owned();
    };
    let Some((address, params)) = parse_path(rest, false) else {
        return "501 5.1.3 Bad recipient address syntax".to_owned();
    };
    if !params.trim().is_empty() {
        return "555 5.5.4 Unsupported RCPT parameter".to_owned();
    }
    if tx.rcpts.len() >= config.max_recipients {
        return "452 4.5.3 Too many recipients".to_owned();
    }
    match sink.recipient(&address).await {
        Verdict::Accept => {
            if !tx.rcpts.iter().any(|r| r.eq_ignore_ascii_case(&address)) {
                tx.rcpts.push(address);
            }
            "250 2.1.5 OK".to_owned()
        }
        Verdict::Reject(why) => format!("550 5.1.1 {}", clean(&why, "No such mailbox here")),
        Verdict::TryLater(why) => format!(
            "451 4.3.0 {}",
            clean(&why, "Temporary failure, try again later")
        ),
    }
}

/// Reads message content up to `<CRLF>.<CRLF>`, dot-unstuffed. `None` when it grew beyond
/// `limit`: then it was read to its end but not kept.
///
/// Lines ending in a bare LF are tolerated and kept as they are, but only a `.` line that
/// follows a CRLF ends the message (a bare-LF end is how SMTP smuggling hides a second
/// message inside the first).
async fn read_data<S: AsyncRead + AsyncWrite>(
    conn: &mut Conn<S>,
    limit: usize,
) -> Result<Option<Vec<u8>>, End> {
    let mut raw = Vec::new();
    let mut too_large = false;
    let mut piece = Vec::with_capacity(DATA_PIECE);
    // The next piece starts a line; the line before ended with CRLF; the last byte was CR.
    let (mut line_start, mut after_crlf, mut last_cr) = (true, true, false);
    loop {
        piece.clear();
        let ended = conn.read_piece(&mut piece, DATA_PIECE).await? == Piece::Line;
        if line_start && after_crlf && piece == b".\r\n" {
            return Ok((!too_large).then_some(raw));
        }
        let content = match piece.split_first() {
            Some((b'.', rest)) if line_start => rest,
            _ => &piece[..],
        };
        if !too_large {
            if raw.len() + content.len() > limit {
                too_large = true;
                raw = Vec::new();
            } else {
                raw.extend_from_slice(content);
            }
        }
        if ended {
            after_crlf = match piece.len() {
                1 => last_cr,
                n => piece[n - 2] == b'\r',
            };
        }
        last_cr = piece.last() == Some(&b'\r');
        line_start = ended;
    }
}

/// The polite text of a `552` for a message over `limit` bytes.
fn too_large(limit: usize) -> String {
    format!(
        "Your message is larger than we accept ({}). Please send smaller attachments or share a link.",
        human_size(limit)
    )
}

fn human_size(bytes: usize) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    let b = bytes as f64;
    if b >= MB {
        let mb = b / MB;
        if (mb - mb.round()).abs() < 0.05 {
            format!("{} MB", mb.round())
        } else {
            format!("{mb:.1} MB")
        }
    } else if bytes >= 1024 {
        format!("{} KB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Parses `<path>[ params]` (spaces before `<` tolerated). Returns the address without angle
/// brackets or source route, and the parameters. The null path `<>` only when `null_ok`.
fn parse_path(s: &str, null_ok: bool) -> Option<(String, &str)> {
    let rest = s.trim_start().strip_prefix('<')?;
    let (mut quoted, mut escaped, mut end) = (false, false, None);
    for (i, c) in rest.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => {
                end = Some(i);
                break;
            }
            _ => {}
        }
    }
    let end = end?;
    let (path, params) = (&rest[..end], &rest[end + 1..]);
    if path.len() + 2 > MAX_PATH || !(params.is_empty() || params.starts_with(' ')) {
        return None;
    }
    // A source route (`<@relay1,@relay2:user@host>`) is ignored, as RFC 5321 allows.
    let address = match path.strip_prefix('@') {
        Some(route) => route.split_once(':')?.1,
        None => path,
    };
    if address.chars().any(char::is_control) {
        return None;
    }
    let valid = if address.is_empty() {
        null_ok
    } else {
        address.contains('@') || address.eq_ignore_ascii_case("postmaster")
    };
    valid.then(|| (address.to_owned(), params))
}

/// A text fit for a reply line: no control characters, at most 200 characters.
fn clean(text: &str, default: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    let text = text.trim();
    if text.is_empty() {
        default.to_owned()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_parsed_with_their_parameters() {
        assert_eq!(
            parse_path("<a@b.c> SIZE=10", true),
            Some(("a@b.c".to_owned(), " SIZE=10"))
        );
        assert_eq!(parse_path(" <>", true), Some((String::new(), "")));
        assert_eq!(parse_path("<>", false), None);
        assert_eq!(
            parse_path("<@r1,@r2:u@h.example>", false),
            Some(("u@h.example".to_owned(), ""))
        );
        assert_eq!(
            parse_path("<\"a>b\"@h.example>", false),
            Some(("\"a>b\"@h.example".to_owned(), ""))
        );
        assert_eq!(
            parse_path("<Postmaster>", false).map(|p| p.0).as_deref(),
            Some("Postmaster")
        );
        for bad in ["a@b.c", "<a@b.c", "<a@b.c>x", "<nobody>", "<a\u{0}@b.c>"] {
            assert_eq!(parse_path(bad, true), None, "{bad:?}");
        }
        let long = format!("<{}@b.c>", "a".repeat(300));
        assert_eq!(parse_path(&long, true), None);
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(25 * 1024 * 1024), "25 MB");
        assert_eq!(human_size(1536 * 1024), "1.5 MB");
        assert_eq!(human_size(4096), "4 KB");
        assert_eq!(human_size(100), "100 bytes");
        assert!(too_large(10 * 1024 * 1024).contains("(10 MB)"));
    }

    #[test]
    fn reply_texts_have_no_line_breaks() {
        assert_eq!(clean("a\r\n250 b", "x"), "a  250 b");
        assert_eq!(clean(" \r\n", "x"), "x");
        assert_eq!(clean(&"é".repeat(500), "x").chars().count(), 200);
    }
}
