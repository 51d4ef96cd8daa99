//! mir-ref's global allocator: [`MiMalloc`]; [`PurgeSoon`], the one setting of it that
//! extraction changes while it runs; and [`without_huge_pages`], which the binary calls first.
//!
//! glibc's malloc returns burn's per-step tensor buffers to the kernel and faults them in
//! again: measured on the probe benchmark, up to 25 s of system time in a 60 s run and twice
//! the wall time, depending on heap layout. mimalloc keeps them (2.80 s per training, no system
//! time).

pub use mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: libmimalloc-sys names only the options before it, so
/// this is its place in `mi_option_e` (a test checks the documented default there).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// While it lives, mimalloc gives the pages it no longer uses back to the kernel after 1 ms
/// instead of its default 1 s; dropped, the delay is what it was.
///
/// Extraction frees each track's audio at a high rate, and with the default delay the freed
/// pages stay resident. Measured on the 16,000-track `bench scale` run with the delay at 1 ms
/// for the whole process, the process's peak fell from 191 MB to 115-117 MB and the embed
/// stage's from 147-155 MB to 98-101 MB at the same extraction time; the report's spectrograms
/// were slower (0.44-0.67 s against 0.23-0.44 s at 1,000 tracks), so only extraction sets it.
#[must_use = "the delay is restored when this is dropped"]
pub struct PurgeSoon {
    before: std::ffi::c_long,
}

impl PurgeSoon {
    /// Sets the delay to 1 ms.
    pub fn new() -> Self {
        let before = option(PURGE_DELAY);
        set_option(PURGE_DELAY, 1);
        Self { before }
    }
}

impl Default for PurgeSoon {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PurgeSoon {
    fn drop(&mut self) {
        set_option(PURGE_DELAY, self.before);
    }
}

/// Turns transparent huge pages off for this process (Linux's `PR_SET_THP_DISABLE`; nothing
/// elsewhere), from now on and for memory already mapped.
///
/// mimalloc asks for huge pages on its arenas (`madvise`), so the kernel zeroes and keeps 2 MiB
/// for a first touch of a few KiB. Measured on the 4,000-track `bench scale` run
/// (`MIMALLOC_ALLOW_THP=0`, three runs each way): the process's peak fell from 113-126 MB to
/// 83-90 MB and the embed stage's from 73-76 MB to 45-56 MB, at the same wall time (4.29-4.35 s
/// against 4.02-4.46 s). mimalloc reads that option before `main`, hence this call instead.
pub fn without_huge_pages() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with PR_SET_THP_DISABLE takes one integer argument and changes only
        // the kernel's paging policy for this process.
        #[allow(unsafe_code)]
        let done = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if done != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[allow(unsafe_code)]
fn option(option: libmimalloc_sys::mi_option_t) -> std::ffi::c_long {
    // SAFETY: mi_option_get reads an option; `option` is one of mimalloc's.
    unsafe { libmimalloc_sys::mi_option_get(option) }
}

#[allow(unsafe_code)]
fn set_option(option: libmimalloc_sys::mi_option_t, value: std::ffi::c_long) {
    // SAFETY: mi_option_set stores the value of one of mimalloc's options, which it reads when
    // it purges.
    unsafe { libmimalloc_sys::mi_option_set(option, value) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_is_set_and_restored() {
        assert_eq!(
            option(PURGE_DELAY),
            1000,
            "mimalloc v3 documents a 1,000 ms purge delay"
        );
        let soon = PurgeSoon::new();
        assert_eq!(option(PURGE_DELAY), 1);
        drop(soon);
        assert_eq!(option(PURGE_DELAY), 1000);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn huge_pages_are_turned_off() {
        without_huge_pages().unwrap();
        // SAFETY: PR_GET_THP_DISABLE takes no argument and reads the process's flag.
        #[allow(unsafe_code)]
        let off = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(off, 1);
    }
}
