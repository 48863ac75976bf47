//! Where Latch keeps its (non-secret) data.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// `$LATCH_DATA_DIR`, else the platform data directory + `latch`
/// (`$XDG_DATA_HOME/latch`, `~/.local/share/latch` on Linux).
pub fn data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("LATCH_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::data_dir().map(|d| d.join("latch")).ok_or_else(|| {
        Error::storage("Latch could not find your data directory. Set LATCH_DATA_DIR to a folder Latch may use.")
    })
}

/// Creates the directory, readable by its owner only.
pub fn ensure_dir(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|err| {
        Error::storage(format!("Latch could not create its data directory {}: {err}.", dir.display()))
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}
