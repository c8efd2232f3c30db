//! The content-addressed store under `TINGSHANG_FILES_DIR`: each content once, named by its
//! SHA-256. A file is written to a temporary name, fsync'd, renamed into place and its directory
//! fsync'd before the database row that names it commits, so a row never names a missing file;
//! a crash in between leaves an orphan, which [`FileStore::orphans`] finds for `files gc`.
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

/// A SHA-256 in lowercase hex: the only names the store has.
pub fn is_digest(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Makes a directory's entries durable (a rename or a new entry is on disk once this returns).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl FileStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the content with this digest lives (`ab/abcdef…`); `None` for anything that is not
    /// a digest, so no caller can name a path outside the store.
    pub fn path(&self, sha256: &str) -> Option<PathBuf> {
        is_digest(sha256).then(|| self.dir.join(&sha256[..2]).join(sha256))
    }

    pub fn contains(&self, sha256: &str) -> bool {
        self.path(sha256).is_some_and(|p| p.is_file())
    }

    /// Stores `bytes` durably and returns their digest; content already stored is not written
    /// again. Blocking I/O: call from `spawn_blocking`.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let sha256 = digest(bytes);
        let target = self.path(&sha256).expect("a digest names a path");
        if target.is_file() {
            // Stored before (perhaps an orphan): made young again, so that a `files gc` running
            // now leaves it to the row about to name it.
            let file = std::fs::File::options().append(true).open(&target)?;
            file.set_modified(SystemTime::now())?;
            file.sync_all()?;
            return Ok(sha256);
        }
        let parent = target.parent().expect("two levels");
        if !parent.is_dir() {
            std::fs::create_dir_all(parent)?;
            // The new directory's own entry must be on disk too.
            sync_dir(&self.dir)?;
        }
        let tmp_dir = self.dir.join("tmp");
        std::fs::create_dir_all(&tmp_dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&tmp_dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&target).map_err(|e| e.error)?;
        sync_dir(parent)?;
        Ok(sha256)
    }

    pub fn read(&self, sha256: &str) -> std::io::Result<Vec<u8>> {
        let path = self
            .path(sha256)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a digest"))?;
        std::fs::read(path)
    }

    /// Stored contents no row names (`referenced`), older than `grace` (an upload whose row has
    /// not committed yet is younger), and leftover temporary files. Blocking I/O.
    pub fn orphans(
        &self,
        referenced: &HashSet<String>,
        grace: Duration,
    ) -> std::io::Result<Vec<PathBuf>> {
        let now = SystemTime::now();
        let old = |path: &Path| -> bool {
            std::fs::metadata(path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).unwrap_or_default() >= grace)
        };
        let mut found = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(found); // no store yet: nothing to collect
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&path)? {
                let file = file?.path();
                let name = file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                let stray = entry.file_name() == "tmp" || !referenced.contains(name);
                if stray && file.is_file() && old(&file) {
                    found.push(file);
                }
            }
        }
        found.sort();
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_stored_once_under_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let a = store.put("书面答复".as_bytes()).unwrap();
        assert_eq!(a, digest("书面答复".as_bytes()));
        assert_eq!(store.put("书面答复".as_bytes()).unwrap(), a);
        assert_eq!(store.read(&a).unwrap(), "书面答复".as_bytes());
        assert!(store.path("../../etc/passwd").is_none());
        assert!(store.path(&a.to_uppercase()).is_none());

        let b = store.put(b"orphan").unwrap();
        let referenced: HashSet<String> = [a.clone()].into();
        let orphans = store.orphans(&referenced, Duration::ZERO).unwrap();
        assert_eq!(orphans, vec![store.path(&b).unwrap()]);
        assert!(store
            .orphans(&referenced, Duration::from_secs(3600))
            .unwrap()
            .is_empty());
    }
}
