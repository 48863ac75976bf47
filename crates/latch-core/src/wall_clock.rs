//! Sleeping until a wall-clock time, the way the refresher needs it.
//!
//! A plain `tokio::time::sleep` counts on the monotonic clock, which stops
//! while the machine is suspended and ignores changes to the wall clock: a
//! token due at 09:00 would be refreshed late after a night's sleep, and a
//! clock corrected by an hour would leave every due time off by an hour.
//! On Linux this waits on a `timerfd` armed at an absolute CLOCK_REALTIME
//! time with `TFD_TIMER_CANCEL_ON_SET`: it fires on time across a suspend,
//! and the kernel wakes it as soon as the wall clock is set, so due times
//! are looked at again at once. Elsewhere it falls back to tokio's sleep.

use chrono::{DateTime, Utc};

/// Why the wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woke {
    /// The time came.
    Due,
    /// The wall clock was set (by the user, NTP stepping it, a resume that
    /// corrected it): due times need another look.
    ClockChanged,
}

/// Waits until the wall clock reads `at` (at once if it already has).
pub async fn sleep_until(at: DateTime<Utc>) -> Woke {
    #[cfg(target_os = "linux")]
    {
        match linux::sleep_until(at).await {
            Ok(woke) => return woke,
            Err(err) => tracing::debug!(error = %err, "no timerfd; sleeping on the monotonic clock"),
        }
    }
    let wait = (at - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    Woke::Due
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    use chrono::{DateTime, Utc};
    use tokio::io::unix::AsyncFd;

    use super::Woke;

    pub async fn sleep_until(at: DateTime<Utc>) -> io::Result<Woke> {
        // SAFETY: timerfd_create has no memory preconditions; the result is
        // checked and owned at once.
        let fd = unsafe { libc::timerfd_create(libc::CLOCK_REALTIME, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a new, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut when = libc::itimerspec {
            it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: libc::timespec {
                tv_sec: at.timestamp() as libc::time_t,
                tv_nsec: at.timestamp_subsec_nanos().min(999_999_999) as libc::c_long,
            },
        };
        if when.it_value.tv_sec <= 0 && when.it_value.tv_nsec == 0 {
            // An all-zero it_value would disarm the timer: the time has passed anyway.
            when.it_value.tv_nsec = 1;
        }
        let flags = libc::TFD_TIMER_ABSTIME | libc::TFD_TIMER_CANCEL_ON_SET;
        // SAFETY: fd is valid; `when` is a fully initialised itimerspec.
        if unsafe { libc::timerfd_settime(fd.as_raw_fd(), flags, &when, std::ptr::null_mut()) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the OwnedFd is valid, and AsyncFd owns it until dropped.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }.map_err(io::Error::from)?;
        loop {
            let mut guard = fd.readable().await?;
            let mut expirations = 0u64;
            // SAFETY: reads 8 bytes into a u64 that lives across the call.
            let read = unsafe {
                libc::read(guard.get_inner().as_raw_fd(), (&mut expirations as *mut u64).cast(), std::mem::size_of::<u64>())
            };
            if read == 8 {
                return Ok(Woke::Due);
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::ECANCELED) => return Ok(Woke::ClockChanged),
                Some(libc::EAGAIN) => guard.clear_ready(),
                Some(libc::EINTR) => {}
                _ => return Err(err),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wait_ends_when_the_wall_clock_reaches_the_time() {
        let start = std::time::Instant::now();
        let at = Utc::now() + chrono::Duration::milliseconds(150);
        assert_eq!(sleep_until(at).await, Woke::Due);
        assert!(Utc::now() >= at, "not before the time");
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_time_already_past_ends_the_wait_at_once() {
        let start = std::time::Instant::now();
        assert_eq!(sleep_until(Utc::now() - chrono::Duration::hours(1)).await, Woke::Due);
        assert_eq!(sleep_until(DateTime::<Utc>::UNIX_EPOCH).await, Woke::Due);
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }
}
