//! Files and directories that hold personal data (the embedded database and its WAL, the demo
//! fixture) or keys are created owner-only, 0600 and 0700, whatever the umask; an existing one
//! that is looser is warned about on start (issue 17, finding 4).

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
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let f = opts.open(path)?;
    set_mode(path, 0o600)?;
    Ok(f)
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
