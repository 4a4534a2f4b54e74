//! Files of the data directory, readable by their owner only: it holds every conversation,
//! the customers' files and the deployment's secrets. Folders are created `0700` and files
//! `0600` whatever the process umask, and [`tighten`] narrows what an older build created
//! wider. (On non-Unix systems the modes do not apply and these are plain file operations.)

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The mode of every folder the data directory holds.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every file the data directory holds.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and its missing parents, owner-only, and narrows `dir` itself if it exists.
pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)?;
    set_mode(dir, DIR_MODE)
}

/// Creates `path` empty and owner-only unless it exists (a database file before SQLite opens
/// it: SQLite gives its `-wal` and `-shm` files the database file's mode), then narrows it.
pub fn ensure_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options.open(path)?;
    set_mode(path, FILE_MODE)
}

/// Writes `bytes` to a new owner-only temporary file beside `path` and renames it into place,
/// so a reader sees the old file or the whole new one. The temporary name is the whole file
/// name plus a per-write suffix: two writes never share one (`X` and `X.type` written at once
/// must not rename each other's bytes into place). `durable`: the file and its folder are
/// synced before this returns.
pub fn write_atomic(path: &Path, bytes: &[u8], durable: bool) -> std::io::Result<()> {
    use std::io::Write;
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{}-{n}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    let written = options.open(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        if durable { f.sync_all() } else { Ok(()) }
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    #[cfg(unix)]
    if durable && let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Narrows everything under `dir` (and `dir`) to owner-only: folders `0700`, files `0600`.
/// Symbolic links are left alone (neither followed nor changed). Returns how many entries
/// were narrowed.
pub fn tighten(dir: &Path) -> std::io::Result<usize> {
    let mut narrowed = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        narrowed += usize::from(narrow(&d, DIR_MODE)?);
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                narrowed += usize::from(narrow(&entry.path(), FILE_MODE)?);
            }
        }
    }
    Ok(narrowed)
}

/// Sets `mode` on `path` when its permissions are wider; whether it changed anything.
#[cfg(unix)]
fn narrow(path: &Path, mode: u32) -> std::io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::symlink_metadata(path)?.permissions().mode() & 0o777;
    if current & !mode == 0 {
        return Ok(false);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(true)
}

#[cfg(not(unix))]
fn narrow(_path: &Path, _mode: u32) -> std::io::Result<bool> {
    Ok(false)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    narrow(path, mode).map(|_| ())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_and_files_are_created_owner_only_and_old_ones_are_narrowed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data/files/ab");
        create_dir_all(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("data")), 0o700);
        let file = dir.join("blob");
        write_atomic(&file, b"bytes", false).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(std::fs::read(&file).unwrap(), b"bytes");
        write_atomic(&file, b"again", true).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"again");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let db = tmp.path().join("data/omnidesk.db");
        ensure_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);

        // What an older build left world-readable is narrowed.
        let old = tmp.path().join("data/old.db");
        std::fs::write(&old, b"x").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(tighten(&tmp.path().join("data")).unwrap(), 2);
        assert_eq!(mode(&old), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(tighten(&tmp.path().join("data")).unwrap(), 0);
    }
}
