//! The process allocator: the system allocator, except that requests of 1 GiB or more are served by
//! `mmap(MAP_NORESERVE)`, which reserves address space without committing memory.
//!
//! Why: `kafka-protocol` 0.18 sizes `Vec`s from array counts read off the wire before decoding the elements
//! (upstream PRs #152, #161, #200 are not released). A 14-byte request claiming 2^30 elements made the
//! allocator fail and the process abort, which `catch_unwind` cannot stop (found by `fuzz/request_decode`,
//! inputs in `fuzz/regressions/`). With this allocator such a request reserves virtual space, the decoder
//! runs out of bytes after a few elements, the connection is closed, and the space is returned. Weft never
//! makes legitimate allocations this large (frames are capped at `--max-frame-bytes`, segments at a few MiB),
//! so nothing else changes. Remove this once the codec bounds counts by the bytes remaining.

use std::alloc::{GlobalAlloc, Layout, System};

const HUGE: usize = 1 << 30;

pub struct Allocator;

// SAFETY: small requests go to `System` unchanged; huge ones are page-aligned anonymous mappings
// (zero-filled, so alloc_zeroed needs nothing more), unmapped with the same size on dealloc, and copied on
// realloc. Alignments above a page are passed to `System`.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= HUGE && layout.align() <= 4096 {
            return map(layout.size());
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= HUGE && layout.align() <= 4096 {
            return map(layout.size());
        }
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() >= HUGE && layout.align() <= 4096 {
            unsafe { libc::munmap(ptr.cast(), layout.size()) };
            return;
        }
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let huge = |size: usize| size >= HUGE && layout.align() <= 4096;
        if !huge(layout.size()) && !huge(new_size) {
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: `new_size` with the old alignment is a valid layout (the caller guarantees it).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

fn map(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping with no fixed address has no preconditions.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED { std::ptr::null_mut() } else { p.cast() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_huge_reservation_does_not_commit_memory() {
        // 64 GiB of capacity, as a hostile array count would request; only what is touched is committed.
        let mut v: Vec<u64> = Vec::with_capacity(8 << 30);
        v.push(1);
        assert_eq!(v.len(), 1);
    }
}
