//! A small, bounds-checked reader for TNEF (`winmail.dat`, `application/ms-tnef`) that extracts
//! its file attachments. Layout (MS-OXTNEF): a 4-byte signature, a 2-byte key, then attributes:
//! level (1 byte), id (4 bytes LE, type in the high word), length (4 bytes LE), data, and a
//! 2-byte checksum (sum of the data bytes mod 65536).

const SIGNATURE: u32 = 0x223E_9F78;
const LVL_ATTACHMENT: u8 = 2;
const ATT_ATTACH_REND_DATA: u32 = 0x0006_9002;
const ATT_ATTACH_TITLE: u32 = 0x0001_8010;
const ATT_ATTACH_DATA: u32 = 0x0006_800F;
const ATT_ATTACHMENT: u32 = 0x0006_9005;

const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
const PR_ATTACH_MIME_TAG: u16 = 0x370E;
const PR_DISPLAY_NAME: u16 = 0x3001;
const PR_ATTACH_FILENAME: u16 = 0x3704;

/// One file carried in a TNEF stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TnefFile {
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// What the reader found.
#[derive(Debug, Default)]
pub struct Tnef {
    pub files: Vec<TnefFile>,
    /// Attributes whose checksum did not match (their data is used anyway).
    pub bad_checksums: usize,
}

#[derive(Default)]
struct Building {
    title: Option<String>,
    long_name: Option<String>,
    mime: Option<String>,
    data: Option<Vec<u8>>,
}

impl Building {
    fn finish(self) -> Option<TnefFile> {
        let bytes = self.data?;
        Some(TnefFile {
            file_name: self.long_name.or(self.title).filter(|n| !n.is_empty()),
            content_type: self.mime.filter(|m| m.contains('/')),
            bytes,
        })
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.data.len())
            .ok_or_else(|| {
                format!(
                    "truncated at byte {} (wanted {n} more, {} left)",
                    self.pos,
                    self.data.len() - self.pos
                )
            })?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
}

/// Reads the attachments of a TNEF stream. Errors name what was wrong; trailing garbage after
/// at least one complete attribute is tolerated.
pub fn read(data: &[u8]) -> Result<Tnef, String> {
    let mut r = Reader { data, pos: 0 };
    if r.u32()? != SIGNATURE {
        return Err("not a TNEF stream (bad signature)".to_owned());
    }
    let _key = r.u16()?;
    let mut tnef = Tnef::default();
    let mut current: Option<Building> = None;
    let mut attributes = 0usize;
    while r.remaining() > 0 {
        let attribute = (|| -> Result<(u8, u32, &[u8], u16), String> {
            let level = r.u8()?;
            let id = r.u32()?;
            let len = r.u32()? as usize;
            let value = r.take(len)?;
            let checksum = r.u16()?;
            Ok((level, id, value, checksum))
        })();
        let (level, id, value, checksum) = match attribute {
            Ok(a) => a,
            Err(e) if attributes > 0 => {
                // Garbage after the last attribute: keep what we have.
                let _ = e;
                break;
            }
            Err(e) => return Err(e),
        };
        attributes += 1;
        let sum = value
            .iter()
            .fold(0u16, |acc, b| acc.wrapping_add(u16::from(*b)));
        if sum != checksum {
            tnef.bad_checksums += 1;
        }
        if level != LVL_ATTACHMENT {
            continue;
        }
        match id {
            ATT_ATTACH_REND_DATA => {
                if let Some(done) = current.take().and_then(Building::finish) {
                    tnef.files.push(done);
                }
                current = Some(Building::default());
            }
            ATT_ATTACH_TITLE => {
                current.get_or_insert_with(Building::default).title = Some(string8(value));
            }
            ATT_ATTACH_DATA => {
                current.get_or_insert_with(Building::default).data = Some(value.to_vec());
            }
            ATT_ATTACHMENT => {
                let b = current.get_or_insert_with(Building::default);
                // MAPI properties are a bonus (long names, MIME types): ignore them if unreadable.
                {
                    for (prop, text) in mapi_strings(value) {
                        match prop {
                            PR_ATTACH_LONG_FILENAME => b.long_name = Some(text),
                            PR_DISPLAY_NAME | PR_ATTACH_FILENAME
                                if b.long_name.is_none() && b.title.is_none() =>
                            {
                                b.title = Some(text)
                            }
                            PR_ATTACH_MIME_TAG => b.mime = Some(text.to_ascii_lowercase()),
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(done) = current.take().and_then(Building::finish) {
        tnef.files.push(done);
    }
    Ok(tnef)
}

/// A NUL-terminated 8-bit string (Windows-1252 in practice; bytes above 0x7F read as Latin-1).
fn string8(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    bytes[..end]
        .iter()
        .map(|b| char::from(*b))
        .collect::<String>()
        .trim()
        .to_owned()
}

fn utf16(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let end = units.iter().position(|u| *u == 0).unwrap_or(units.len());
    String::from_utf16_lossy(&units[..end]).trim().to_owned()
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

/// The string-valued properties (PT_STRING8, PT_UNICODE) of a MAPI property list, as far as
/// it could be read.
fn mapi_strings(data: &[u8]) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    let _ = read_mapi_strings(data, &mut out);
    out
}

fn read_mapi_strings(data: &[u8], out: &mut Vec<(u16, String)>) -> Result<(), String> {
    let mut r = Reader { data, pos: 0 };
    let count = r.u32()? as usize;
    for _ in 0..count.min(data.len() / 4) {
        let ptype = r.u16()?;
        let pid = r.u16()?;
        if pid >= 0x8000 {
            // Named property: GUID, kind, then an id or a name.
            r.take(16)?;
            if r.u32()? == 0 {
                r.u32()?;
            } else {
                let len = r.u32()? as usize;
                r.take(len)?;
                r.take(pad4(len))?;
            }
        }
        let multi = ptype & 0x1000 != 0;
        let base = ptype & !0x1000;
        let fixed = match base {
            0x0001 => Some(0),
            0x0002 | 0x0003 | 0x0004 | 0x000A | 0x000B => Some(4),
            0x0005 | 0x0006 | 0x0007 | 0x0014 | 0x0040 => Some(8),
            0x0048 => Some(16),
            0x001E | 0x001F | 0x0102 | 0x000D => None,
            other => return Err(format!("unknown MAPI property type {other:#06x}")),
        };
        let values = if multi || fixed.is_none() {
            r.u32()? as usize
        } else {
            1
        };
        for _ in 0..values.min(r.remaining()) {
            match fixed {
                Some(size) => {
                    r.take(size)?;
                }
                None => {
                    let len = r.u32()? as usize;
                    let value = r.take(len)?;
                    r.take(pad4(len))?;
                    match base {
                        0x001E => out.push((pid, string8(value))),
                        0x001F => out.push((pid, utf16(value))),
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(())
}

/// Builds TNEF streams for tests (the format is simple enough to write by hand).
#[cfg(test)]
pub mod build {
    /// One attribute: level, id, data, with a correct checksum.
    pub fn attribute(level: u8, id: u32, data: &[u8]) -> Vec<u8> {
        let mut out = vec![level];
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        let sum = data
            .iter()
            .fold(0u16, |acc, b| acc.wrapping_add(u16::from(*b)));
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::build::attribute;
    use super::*;

    fn stream(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = SIGNATURE.to_le_bytes().to_vec();
        out.extend_from_slice(&0x0102u16.to_le_bytes());
        out.extend(attribute(1, 0x0008_9006, &[0, 1, 0, 0]));
        for (name, data) in files {
            out.extend(attribute(
                2,
                ATT_ATTACH_REND_DATA,
                &[1, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0],
            ));
            let mut title = name.as_bytes().to_vec();
            title.push(0);
            out.extend(attribute(2, ATT_ATTACH_TITLE, &title));
            out.extend(attribute(2, ATT_ATTACH_DATA, data));
        }
        out
    }

    #[test]
    fn two_files_are_read() {
        let t = read(&stream(&[("a.txt", b"hello"), ("b.bin", &[0, 1, 2])])).unwrap();
        assert_eq!(t.files.len(), 2);
        assert_eq!(t.files[0].file_name.as_deref(), Some("a.txt"));
        assert_eq!(t.files[0].bytes, b"hello");
        assert_eq!(t.files[1].bytes, vec![0, 1, 2]);
        assert_eq!(t.bad_checksums, 0);
    }

    #[test]
    fn long_names_come_from_mapi_properties() {
        let mut s = stream(&[("LONGNA~1.TXT", b"x")]);
        let name = "Long name.txt\0";
        let mut props = 2u32.to_le_bytes().to_vec();
        props.extend_from_slice(&0x001Eu16.to_le_bytes());
        props.extend_from_slice(&PR_ATTACH_LONG_FILENAME.to_le_bytes());
        props.extend_from_slice(&1u32.to_le_bytes());
        props.extend_from_slice(&(name.len() as u32).to_le_bytes());
        props.extend_from_slice(name.as_bytes());
        props.extend(std::iter::repeat_n(0, pad4(name.len())));
        let mime: Vec<u8> = "text/plain\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        props.extend_from_slice(&0x001Fu16.to_le_bytes());
        props.extend_from_slice(&PR_ATTACH_MIME_TAG.to_le_bytes());
        props.extend_from_slice(&1u32.to_le_bytes());
        props.extend_from_slice(&(mime.len() as u32).to_le_bytes());
        props.extend_from_slice(&mime);
        props.extend(std::iter::repeat_n(0, pad4(mime.len())));
        s.extend(attribute(2, ATT_ATTACHMENT, &props));
        let t = read(&s).unwrap();
        assert_eq!(t.files[0].file_name.as_deref(), Some("Long name.txt"));
        assert_eq!(t.files[0].content_type.as_deref(), Some("text/plain"));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(read(b"").is_err());
        assert!(read(b"not tnef at all").is_err());
        let s = stream(&[("a.txt", b"hello")]);
        for cut in 0..s.len() {
            let _ = read(&s[..cut]);
        }
        let mut huge = SIGNATURE.to_le_bytes().to_vec();
        huge.extend_from_slice(&[0, 0, 2, 0x0f, 0x80, 0x06, 0, 0xff, 0xff, 0xff, 0xff]);
        assert!(read(&huge).is_err());
    }

    #[test]
    fn bad_checksums_are_counted_not_fatal() {
        let mut s = stream(&[("a.txt", b"hello")]);
        let last = s.len() - 1;
        s[last] ^= 0xff;
        let t = read(&s).unwrap();
        assert_eq!(t.bad_checksums, 1);
        assert_eq!(t.files.len(), 1);
    }
}
