//! Upstream's atomic writer for ConfigMap, Secret, projected and downward API volumes: the
//! files live in a timestamped directory that the `..data` symlink points at, and every
//! visible name is a symlink through `..data`. An update writes a new directory and swaps
//! `..data` with one rename, so a reader sees either the old files or the new ones, never a
//! mix.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

const DATA: &str = "..data";
const DATA_TMP: &str = "..data_tmp";

/// One file of a volume: its content and mode.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    pub content: Vec<u8>,
    pub mode: u32,
}

/// Make `dir` hold exactly `files` (paths relative to it, maybe nested); returns whether
/// anything changed.
pub fn write(dir: &Path, files: &BTreeMap<String, File>) -> io::Result<bool> {
    std::fs::create_dir_all(dir)?;
    if current(dir).as_ref() == Some(files) {
        return Ok(false);
    }
    let stamp = jiff::Zoned::now().strftime("..%Y_%m_%d_%H_%M_%S.%f").to_string();
    let fresh = dir.join(&stamp);
    std::fs::create_dir(&fresh)?;
    std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o755))?;
    for (path, file) in files {
        let target = fresh.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, &file.content)?;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(file.mode))?;
    }
    let old = std::fs::read_link(dir.join(DATA)).ok();
    let _ = std::fs::remove_file(dir.join(DATA_TMP));
    symlink(&stamp, dir.join(DATA_TMP))?;
    std::fs::rename(dir.join(DATA_TMP), dir.join(DATA))?;
    let visible: std::collections::BTreeSet<&str> = files.keys().map(|p| p.split('/').next().unwrap_or(p)).collect();
    for name in &visible {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(Path::new(DATA).join(name), &link)?;
        }
    }
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") && !visible.contains(name.as_str()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    if let Some(old) = old {
        let _ = std::fs::remove_dir_all(dir.join(old));
    }
    Ok(true)
}

/// The files `..data` points at now, if any.
fn current(dir: &Path) -> Option<BTreeMap<String, File>> {
    let data = dir.join(DATA);
    std::fs::read_link(&data).ok()?;
    let mut files = BTreeMap::new();
    collect(&data, "", &mut files).ok()?;
    Some(files)
}

fn collect(dir: &Path, prefix: &str, files: &mut BTreeMap<String, File>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let metadata = entry.metadata()?;
        if metadata.is_dir() {
            collect(&entry.path(), &format!("{name}/"), files)?;
        } else {
            let content = std::fs::read(entry.path())?;
            files.insert(name, File { content, mode: metadata.permissions().mode() & 0o7777 });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> BTreeMap<String, File> {
        entries.iter().map(|(p, c)| (p.to_string(), File { content: c.as_bytes().to_vec(), mode: 0o644 })).collect()
    }

    #[test]
    fn updates_swap_the_data_link_and_drop_removed_names() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write(dir.path(), &files(&[("a", "1"), ("sub/b", "2")])).unwrap());
        assert_eq!(std::fs::read_to_string(dir.path().join("a")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(dir.path().join("sub/b")).unwrap(), "2");
        assert_eq!(std::fs::read_link(dir.path().join("a")).unwrap(), Path::new("..data/a"));
        assert!(!write(dir.path(), &files(&[("a", "1"), ("sub/b", "2")])).unwrap());
        let first = std::fs::read_link(dir.path().join(DATA)).unwrap();
        assert!(write(dir.path(), &files(&[("a", "changed")])).unwrap());
        assert_eq!(std::fs::read_to_string(dir.path().join("a")).unwrap(), "changed");
        assert!(std::fs::symlink_metadata(dir.path().join("sub")).is_err());
        assert!(!dir.path().join(first).exists());
    }
}
