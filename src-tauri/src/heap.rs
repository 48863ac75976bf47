//! Giving the system back the heap that starting freed.
//!
//! Starting opens the engine, builds the window and the tray, and serialises
//! the list for the page. glibc's allocator keeps what those free in its
//! arenas, for reuse, and returns only the top of the main heap on its own:
//! an app that then idles in the tray for hours would hold those pages for
//! nothing (1.7 MB of Latch's process with 100 or 1,000 connections when
//! `malloc_trim` was called into the running release build with gdb; about
//! 1 MB in `make bench`'s idle figure; bench/README.md).

use std::time::Duration;

/// When the start has settled: the window painted and its list served.
const AFTER_START: Duration = Duration::from_secs(3);

/// Gives back the freed heap once, [`AFTER_START`] from now (on a blocking
/// thread: it walks every arena).
pub fn give_back_after_start() {
    tauri::async_runtime::spawn(async {
        tokio::time::sleep(AFTER_START).await;
        let _ = tokio::task::spawn_blocking(give_back).await;
    });
}

/// Returns the free pages of every malloc arena to the system; true if any
/// were. Where the allocator is not glibc's, nothing to do.
pub fn give_back() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // Declared here rather than through the libc crate: a new dependency
        // changes the hashes in latch-app's symbol names, and with them the
        // match of src-tauri/startup-order.txt.
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: glibc's malloc_trim takes the arenas' locks itself and
        // releases only pages no allocation uses.
        unsafe { malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::give_back;

    #[test]
    fn freed_heap_pages_go_back_to_the_system() {
        // 16 MB in blocks below the mmap threshold: they come from the heap.
        // The last one, highest in it, stays: the freed ones below it are
        // not at the heap's top, which glibc trims by itself.
        let mut blocks: Vec<Vec<u8>> = (0..4096).map(|i| vec![i as u8; 4096]).collect();
        let last = blocks.pop();
        drop(blocks);
        assert!(give_back(), "malloc_trim released nothing after 16 MB were freed");
        assert!(last.is_some_and(|block| block[0] == 255));
    }
}
