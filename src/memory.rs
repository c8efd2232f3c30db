//! Process-wide memory settings, applied before the first thread starts.

/// glibc gives every thread that allocates under contention an arena of its own (up to eight per
/// core), and memory freed into one arena is not reused by the others: with the runtime's
/// workers, its blocking pool and a SQLite worker thread per pooled connection, the server kept
/// ~13 MB more resident than with two arenas (100k corpus, the benchmark's page and search mix;
/// throughput unchanged). One arena per core keeps contention low. `MALLOC_ARENA_MAX`, when set,
/// still decides: glibc reads it itself.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = libc::c_int::try_from(cores).unwrap_or(2).max(2);
        // SAFETY: mallopt only sets an allocator parameter; it is called before other threads exist.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

/// Returns memory freed inside the allocator's arenas to the system. After a burst of large,
/// short-lived buffers (an index commit's), glibc keeps the freed pages resident for reuse.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages; it is safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}
