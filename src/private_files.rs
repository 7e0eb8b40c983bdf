//! Every directory the project creates is 0700 and every file 0600, whatever the umask: the
//! ledger's and the witness's alike (issue 17, finding 4; issue 35, F16). This is the one place
//! that creates them (a tidy test keeps it so); an existing one that is looser is warned about
//! on start.

use std::path::Path;

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}

/// Creates `dir` and any missing parents, each one created 0700.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => set_mode(dir, 0o700),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates (or truncates) `path` for writing, 0600.
pub fn create_file(path: &Path) -> std::io::Result<std::fs::File> {
    let f = options().open(path)?;
    set_mode(path, 0o600)?;
    Ok(f)
}

fn options() -> std::fs::OpenOptions {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

/// Writes `bytes` under a temporary name beside `path`, synced, then `place`s it (rename over,
/// or link refusing an existing file) and syncs the directory: a crash leaves the old file or
/// the new one, never half of one.
fn write_then(path: &Path, bytes: &[u8], place: fn(&Path, &Path) -> std::io::Result<()>) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir(dir)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = options().open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        place(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

/// Writes `path` (0600) durably, replacing what was there.
pub fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_then(path, bytes, |tmp, path| std::fs::rename(tmp, path))
}

/// Writes a new file `path` (0600) durably, refusing to overwrite one (keys).
pub fn write_new_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_then(path, bytes, |tmp, path| std::fs::hard_link(tmp, path))
}

/// Opens `path` for appending, created 0600 if it does not exist (logs).
pub fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// Creates `path` empty and 0600 if it does not exist (SQLite gives its WAL and shared-memory
/// files the database file's mode, so they follow).
pub fn touch(path: &Path) -> std::io::Result<()> {
    if !path.exists() {
        create_file(path)?;
    }
    Ok(())
}

/// A warning for each of `paths` that exists and can be read by others than its owner.
pub fn looser_than_owner(paths: &[&Path]) -> Vec<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        paths
            .iter()
            .filter_map(|p| {
                let mode = std::fs::metadata(p).ok()?.permissions().mode() & 0o777;
                (mode & 0o077 != 0).then(|| format!("{} is mode {mode:o}: it holds personal data or keys; make it owner-only (chmod go-rwx)", p.display()))
            })
            .collect()
    }
    #[cfg(not(unix))]
    {
        let _ = paths;
        Vec::new()
    }
}
