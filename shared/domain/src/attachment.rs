//! What a message carries besides its text: files (their bytes live in the channel or in blob
//! storage, never in the message), places, contact cards, polls, dice.

use serde::{Deserialize, Serialize};

/// The kind of an attachment (`"kind"` in every API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentKind {
    /// A picture shown inline (a Telegram photo, a pasted screenshot).
    Image,
    /// Any other file, offered for download.
    File,
    /// Music or another audio file.
    Audio,
    /// A voice note.
    Voice,
    /// A video, a round video note or an animation (GIF).
    Video,
    /// A sticker: its emoji, and a preview when one could be fetched.
    Sticker,
    /// A point on the map, or a venue (a named place with an address).
    Location,
    /// A shared contact card.
    Contact,
    /// A poll: its question and options.
    Poll,
    /// A Telegram dice throw: its emoji and the value.
    Dice,
}

impl AttachmentKind {
    /// The lowercase name used in every API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::File => "file",
            Self::Audio => "audio",
            Self::Voice => "voice",
            Self::Video => "video",
            Self::Sticker => "sticker",
            Self::Location => "location",
            Self::Contact => "contact",
            Self::Poll => "poll",
            Self::Dice => "dice",
        }
    }

    /// Whether attachments of this kind are files (bytes to fetch, store and send).
    pub fn has_bytes(self) -> bool {
        matches!(
            self,
            Self::Image | Self::File | Self::Audio | Self::Voice | Self::Video | Self::Sticker
        )
    }
}

/// A coordinate in decimal degrees. Compared by its bits, so it can live in `Eq` types (a
/// received coordinate is never the result of arithmetic).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Degrees(pub f64);

impl PartialEq for Degrees {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}
impl Eq for Degrees {}

/// A file or a structured item attached to a message.
///
/// Files: `reference` says where the bytes are on the channel (`tg-file:<file_id>` for
/// Telegram, `upload` for a browser upload); `blob` is the key in blob storage once they are
/// stored there, and `url` a signed, short-lived link to them that the APIs add when they hand
/// a message to an authenticated reader (never stored). Places, contacts, polls and dice carry
/// their content in the optional fields below, readable without any file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub kind: AttachmentKind,
    /// Channel-specific reference, e.g. `tg-file:<file_id>`.
    pub reference: String,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub size_bytes: Option<u64>,
    /// The blob-storage key of the bytes, once stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
    /// A signed, short-lived download link, added by the APIs (never stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Why the bytes are not available (too large to download, the download failed), for the
    /// agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Length of audio, voice and video, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u32>,
    /// A sticker's or a dice's emoji.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    /// Location and venue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<Degrees>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<Degrees>,
    /// A venue's name, a contact's full name, a poll's question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A venue's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// A contact card's phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// A poll's options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// A dice's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<u32>,
}

impl Attachment {
    /// An attachment of `kind` at `reference`, every other field empty.
    pub fn new(kind: AttachmentKind, reference: impl Into<String>) -> Self {
        Self {
            kind,
            reference: reference.into(),
            file_name: None,
            mime_type: None,
            size_bytes: None,
            blob: None,
            url: None,
            note: None,
            width: None,
            height: None,
            duration_secs: None,
            emoji: None,
            latitude: None,
            longitude: None,
            title: None,
            address: None,
            phone: None,
            options: Vec::new(),
            value: None,
        }
    }

    /// A place: coordinates, and a venue's name and address.
    pub fn location(latitude: f64, longitude: f64) -> Self {
        let mut a = Self::new(AttachmentKind::Location, "location");
        a.latitude = Some(Degrees(latitude));
        a.longitude = Some(Degrees(longitude));
        a
    }

    /// A map link for a location (OpenStreetMap, no key needed).
    pub fn map_url(&self) -> Option<String> {
        let (lat, lon) = (self.latitude?.0, self.longitude?.0);
        Some(format!(
            "https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}#map=17/{lat:.6}/{lon:.6}"
        ))
    }

    /// The Telegram `file_id` of a file received on Telegram.
    pub fn telegram_file_id(&self) -> Option<&str> {
        self.reference.strip_prefix(TELEGRAM_FILE_PREFIX)
    }

    /// Whether the bytes still have to be fetched from the channel into blob storage.
    pub fn needs_fetch(&self) -> bool {
        self.kind.has_bytes()
            && self.blob.is_none()
            && self.note.is_none()
            && self.telegram_file_id().is_some()
    }

    /// One line for people and for texts that cannot show the attachment itself (previews,
    /// summaries, the AI's context): "Photo", "Location 52.520000, 13.405000", "Poll: …".
    pub fn describe(&self) -> String {
        let named = |what: &str| match &self.file_name {
            Some(name) => format!("{what} {name}"),
            None => what.to_owned(),
        };
        match self.kind {
            AttachmentKind::Image => named("Photo"),
            AttachmentKind::File => named("File"),
            AttachmentKind::Audio => named("Audio"),
            AttachmentKind::Voice => match self.duration_secs {
                Some(s) => format!("Voice message {}:{:02}", s / 60, s % 60),
                None => "Voice message".to_owned(),
            },
            AttachmentKind::Video => named("Video"),
            AttachmentKind::Sticker => match &self.emoji {
                Some(e) => format!("Sticker {e}"),
                None => "Sticker".to_owned(),
            },
            AttachmentKind::Location => {
                let coords = match (self.latitude, self.longitude) {
                    (Some(lat), Some(lon)) => format!("{:.6}, {:.6}", lat.0, lon.0),
                    _ => String::new(),
                };
                let place = [self.title.as_deref(), self.address.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ");
                match (place.is_empty(), coords.is_empty()) {
                    (true, _) => format!("Location {coords}").trim_end().to_owned(),
                    (false, true) => format!("Location: {place}"),
                    (false, false) => format!("Location: {place} ({coords})"),
                }
            }
            AttachmentKind::Contact => {
                let parts = [self.title.as_deref(), self.phone.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                format!("Contact: {parts}").trim_end().to_owned()
            }
            AttachmentKind::Poll => {
                let q = self.title.as_deref().unwrap_or("");
                if self.options.is_empty() {
                    format!("Poll: {q}")
                } else {
                    format!("Poll: {q} ({})", self.options.join(" / "))
                }
            }
            AttachmentKind::Dice => match (&self.emoji, self.value) {
                (Some(e), Some(v)) => format!("Dice {e} {v}"),
                (None, Some(v)) => format!("Dice {v}"),
                _ => "Dice".to_owned(),
            },
        }
    }
}

/// Prefix of [`Attachment::reference`] for a file received on Telegram.
pub const TELEGRAM_FILE_PREFIX: &str = "tg-file:";

/// Telegram's download limit for bots (`getFile`): larger files are kept as a reference.
pub const TELEGRAM_DOWNLOAD_LIMIT: u64 = 20 * 1024 * 1024;

/// Telegram's upload limit for bots (multipart `sendDocument` and friends).
pub const TELEGRAM_UPLOAD_LIMIT: u64 = 50 * 1024 * 1024;

/// Telegram's limit for `sendPhoto`; a larger image is sent as a document.
pub const TELEGRAM_PHOTO_LIMIT: u64 = 10 * 1024 * 1024;

/// "20 MB", "25.5 MB", "512 KB", "900 bytes": a size for people (binary units, as Telegram's
/// limits are).
pub fn human_size(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if bytes >= MB && bytes.is_multiple_of(MB) {
        format!("{} MB", bytes / MB)
    } else if bytes >= MB {
        format!("{:.1} MB", bytes as f64 / MB as f64)
    } else if bytes >= 1024 {
        format!("{} KB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// The note of a Telegram file over the bots' download limit, kept as a reference: its size
/// when known.
pub fn too_large_note(size: Option<u64>) -> String {
    match size {
        Some(bytes) => format!(
            "Not downloaded: over Telegram's 20 MB limit for bots ({}). Open it in Telegram.",
            human_size(bytes)
        ),
        None => {
            "Not downloaded: over Telegram's 20 MB limit for bots. Open it in Telegram.".to_owned()
        }
    }
}

/// Whether a browser may show bytes of this type inline from our origin. Everything else
/// (HTML, SVG, XML, scripts, unknown types) is served as a download.
pub fn safe_inline(mime_type: &str) -> bool {
    let mime = mime_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        mime.as_str(),
        "image/png"
            | "image/jpeg"
            | "image/gif"
            | "image/webp"
            | "image/avif"
            | "image/bmp"
            | "audio/mpeg"
            | "audio/ogg"
            | "audio/wav"
            | "audio/webm"
            | "audio/mp4"
            | "audio/aac"
            | "audio/flac"
            | "video/mp4"
            | "video/webm"
            | "video/ogg"
            | "video/quicktime"
    )
}

/// The attachment kind of an uploaded file of this type.
pub fn kind_of_mime(mime_type: &str) -> AttachmentKind {
    let mime = mime_type.to_ascii_lowercase();
    if mime.starts_with("image/") && safe_inline(&mime) {
        AttachmentKind::Image
    } else if mime.starts_with("audio/ogg") {
        AttachmentKind::Voice
    } else if mime.starts_with("audio/") {
        AttachmentKind::Audio
    } else if mime.starts_with("video/") {
        AttachmentKind::Video
    } else {
        AttachmentKind::File
    }
}

/// A file name safe for a `Content-Disposition` header and a file system: no path, no
/// control characters, at most 200 bytes; empty becomes `file`.
pub fn clean_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut out: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .to_owned();
    while out.len() > 200 {
        out.pop();
    }
    if out.is_empty() {
        "file".to_owned()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialise_lowercase() {
        let a = Attachment::new(AttachmentKind::Voice, "tg-file:x");
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["kind"], "voice");
        assert_eq!(v.get("url"), None);
        assert_eq!(a.telegram_file_id(), Some("x"));
        assert!(a.needs_fetch());
    }

    #[test]
    fn a_location_reads_without_a_map() {
        let mut a = Attachment::location(52.52, 13.405);
        assert_eq!(a.describe(), "Location 52.520000, 13.405000");
        a.title = Some("Cafe".into());
        assert_eq!(a.describe(), "Location: Cafe (52.520000, 13.405000)");
        assert!(a.map_url().unwrap().contains("mlat=52.520000"));
        let back: Attachment = serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
        assert_eq!(back, a);
        assert!(!a.needs_fetch());
    }

    #[test]
    fn only_plain_media_render_inline() {
        assert!(safe_inline("image/png"));
        assert!(safe_inline("IMAGE/JPEG; charset=binary"));
        assert!(!safe_inline("image/svg+xml"));
        assert!(!safe_inline("text/html"));
        assert!(!safe_inline("application/pdf"));
        assert_eq!(kind_of_mime("image/svg+xml"), AttachmentKind::File);
        assert_eq!(
            kind_of_mime("audio/ogg; codecs=opus"),
            AttachmentKind::Voice
        );
    }

    #[test]
    fn sizes_read_like_telegram_counts_them() {
        assert_eq!(human_size(20 * 1024 * 1024), "20 MB");
        assert_eq!(human_size(25 * 1024 * 1024 + 512 * 1024), "25.5 MB");
        assert_eq!(human_size(2048), "2 KB");
        assert_eq!(human_size(12), "12 bytes");
        assert_eq!(
            too_large_note(Some(25 * 1024 * 1024)),
            "Not downloaded: over Telegram's 20 MB limit for bots (25 MB). Open it in Telegram."
        );
    }

    #[test]
    fn file_names_lose_paths_and_quotes() {
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("C:\\x\\a\"b.txt"), "ab.txt");
        assert_eq!(clean_file_name(""), "file");
        assert_eq!(clean_file_name(".htaccess"), "htaccess");
    }
}
