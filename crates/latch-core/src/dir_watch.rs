//! Waiting for another process to write to the data directory (the `latch`
//! CLI, a script, a second app), without waking up for nothing: on Linux
//! an inotify watch on the directory, which the SQLite database and its WAL
//! live in; elsewhere a check once a second. A wake-up means "look again",
//! not "something changed": compare [`Engine::store_version`] to know.
//!
//! [`Engine::store_version`]: crate::Engine::store_version

use std::path::Path;
use std::time::Duration;

/// A watch on one directory.
pub struct DirWatch {
    #[cfg(target_os = "linux")]
    inotify: Option<linux::Inotify>,
}

impl DirWatch {
    /// Watches `dir`. Never fails: without inotify it falls back to a tick.
    pub fn new(dir: &Path) -> DirWatch {
        #[cfg(target_os = "linux")]
        {
            let inotify = linux::Inotify::watch(dir)
                .inspect_err(|err| tracing::warn!(error = %err, "no inotify watch; checking the store once a second"))
                .ok();
            DirWatch { inotify }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = dir;
            DirWatch {}
        }
    }

    /// Resolves after the next write to a file in the directory (or after a
    /// second without inotify).
    pub async fn changed(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(inotify) = &mut self.inotify {
            match inotify.next().await {
                Ok(()) => return,
                Err(err) => {
                    tracing::warn!(error = %err, "the inotify watch failed; checking the store once a second");
                    self.inotify = None;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::CString;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    use tokio::io::unix::AsyncFd;

    pub struct Inotify {
        fd: AsyncFd<OwnedFd>,
    }

    impl Inotify {
        pub fn watch(dir: &Path) -> io::Result<Inotify> {
            // SAFETY: no memory preconditions; the result is checked and owned at once.
            let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: raw is a new descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            let path = CString::new(dir.as_os_str().as_bytes()).map_err(io::Error::other)?;
            let mask = libc::IN_MODIFY | libc::IN_CLOSE_WRITE | libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_DELETE;
            // SAFETY: fd is valid and path a NUL-terminated string that outlives the call.
            if unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), mask) } < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: the OwnedFd is valid, and AsyncFd owns it until dropped.
            let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }.map_err(io::Error::from)?;
            Ok(Inotify { fd })
        }

        /// Waits for events, then drains every one queued: a burst of
        /// writes is one wake-up.
        pub async fn next(&mut self) -> io::Result<()> {
            let mut buffer = [0u8; 4096];
            let mut got_any = false;
            loop {
                let mut guard = self.fd.readable().await?;
                loop {
                    // SAFETY: reads into a buffer that lives across the call, at most its length.
                    let read = unsafe {
                        libc::read(guard.get_inner().as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len())
                    };
                    if read > 0 {
                        got_any = true;
                        continue;
                    }
                    let err = io::Error::last_os_error();
                    match err.raw_os_error() {
                        Some(libc::EAGAIN) => {
                            guard.clear_ready();
                            break;
                        }
                        Some(libc::EINTR) => continue,
                        _ => return Err(err),
                    }
                }
                if got_any {
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_by_someone_else_ends_the_wait() {
        let dir = tempfile::tempdir().unwrap();
        let mut watch = DirWatch::new(dir.path());
        let file = dir.path().join("latch.db-wal");
        let writer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            std::fs::write(file, b"page").unwrap();
        });
        tokio::time::timeout(Duration::from_secs(5), watch.changed()).await.expect("woken by the write");
        writer.await.unwrap();
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn nothing_written_means_no_wake_up() {
        let dir = tempfile::tempdir().unwrap();
        let mut watch = DirWatch::new(dir.path());
        assert!(tokio::time::timeout(Duration::from_millis(1500), watch.changed()).await.is_err(), "no tick, no wake-up");
    }
}
