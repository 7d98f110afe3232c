//! `nestevo`: parses the command line, calls one library function, prints.
// The argument structs' doc comments are clap's help text, written for a terminal (`[sched]`,
// `OUT/rep<R>/`), not rustdoc links or HTML.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

// The simulator allocates and frees buffers of hundreds of MB layer after layer; glibc maps
// and unmaps each, and the kernel zeroes every page on its first touch again (a third of a
// ResNet-50 run's time). mimalloc keeps freed pages for the next buffer.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
#[cfg(feature = "torch")]
mod cuda;
mod engines;
mod info;

fn main() {
    #[cfg(feature = "torch")]
    nestevo_xbar_torch::keep_freed_heap();
    #[cfg(feature = "torch")]
    if let Err(e) = cuda::init() {
        eprintln!("error: {e}");
        leave(false);
    }
    leave(cli::main())
}

/// Ends the process once the command has returned, without the C++ static destructors:
/// LibTorch's deregister its thousands of operators one by one (about 0.1 s after every command,
/// a `cim run` of ResNet-50 included). Nothing of ours runs at exit: every file a command writes
/// is written and closed before it returns, and the standard streams are flushed here.
fn leave(ok: bool) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` ends the process at once; the only buffered output, the standard
    // streams', was flushed above.
    unsafe { libc::_exit(if ok { 0 } else { 1 }) }
}
