//! `nestevo`: parses the command line, calls one library function, prints.

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

fn main() -> std::process::ExitCode {
    #[cfg(feature = "torch")]
    if let Err(e) = cuda::init() {
        eprintln!("error: {e}");
        return std::process::ExitCode::from(1);
    }
    cli::main()
}
